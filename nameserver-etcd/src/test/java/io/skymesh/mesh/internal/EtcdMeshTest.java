package io.skymesh.mesh.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.etcd.jetcd.Client;
import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.ConfigChange;
import io.skymesh.mesh.Leader;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import io.skymesh.nameserver.NameServer;
import io.skymesh.nameserver.spi.NameStoreProvider;
import io.skymesh.testkit.EtcdCluster;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;

/**
 * Meshes spread over three name-server nodes that keep their state in one three-member etcd: one
 * name service. Lives in the mesh's internal package to send a message fenced with a stale term.
 */
class EtcdMeshTest {

  private static final Duration DEADLINE = Duration.ofSeconds(30);
  private static final ServiceName LOBBY = ServiceName.parse("game.zone1.lobby");
  private static final ServiceUrl ONE = ServiceUrl.parse("game.zone1.lobby/1");
  private static final ServiceUrl TWO = ServiceUrl.parse("game.zone1.lobby/2");
  private static final ServiceUrl THREE = ServiceUrl.parse("game.zone1.lobby/3");

  private EtcdCluster etcd;
  private final List<NameServer> nodes = new ArrayList<>();
  private final List<Mesh> meshes = new ArrayList<>();

  @BeforeEach
  void start() {
    etcd = EtcdCluster.start(3);
    NameStoreProvider etcdStore =
        NameStoreProvider.find("etcd", getClass().getClassLoader()).orElseThrow();
    for (int i = 0; i < 3; i++) {
      nodes.add(
          etcdStore
              .open(etcd.endpoints())
              .flatMap(store -> NameServer.builder().host("127.0.0.1").port(0).store(store).start())
              .block(DEADLINE));
    }
  }

  @AfterEach
  void stop() {
    meshes.forEach(mesh -> mesh.close().block(DEADLINE));
    nodes.forEach(node -> node.closeNow(DEADLINE));
    if (etcd != null) {
      etcd.close();
    }
  }

  private DefaultMesh meshOn(int node) {
    Mesh mesh =
        Mesh.builder("game")
            .nameServer("127.0.0.1:" + nodes.get(node).port())
            .sessionTtl(Duration.ofSeconds(5))
            .reconnectBackoff(Duration.ofMillis(50), Duration.ofMillis(500))
            .start()
            .block(DEADLINE);
    meshes.add(mesh);
    return (DefaultMesh) mesh;
  }

  private static MeshService register(Mesh mesh, ServiceUrl url, List<String> got) {
    return mesh.register(url, m -> Mono.fromRunnable(() -> got.add(m.payload().toStringUtf8())))
        .block(DEADLINE);
  }

  @Test
  void meshesSpreadOverThreeNodesSeeTheSameMembersLeadersAndKv() {
    List<DefaultMesh> spread = List.of(meshOn(0), meshOn(1), meshOn(2));
    MeshService one = register(spread.get(0), ONE, new CopyOnWriteArrayList<>());
    MeshService two = register(spread.get(1), TWO, new CopyOnWriteArrayList<>());
    register(spread.get(2), THREE, new CopyOnWriteArrayList<>());
    one.campaign().subscribe();
    await().atMost(DEADLINE).until(() -> spread.get(0).router(LOBBY).currentLeader().isLeader(ONE));
    two.campaign().subscribe();

    List<ConfigChange> changes = new CopyOnWriteArrayList<>();
    spread.get(2).config().watch("lobby/").subscribe(changes::add);
    long written = spread.get(1).config().put("lobby/motd", "hello").block(DEADLINE);

    for (DefaultMesh mesh : spread) {
      await()
          .atMost(DEADLINE)
          .until(() -> mesh.router(LOBBY).currentView().instances().size() == 3);
      await().atMost(DEADLINE).until(() -> mesh.router(LOBBY).currentLeader().isLeader(ONE));
      assertThat(mesh.config().getString("lobby/motd", "").block(DEADLINE)).isEqualTo("hello");
    }
    List<Leader> leaders = spread.stream().map(m -> m.router(LOBBY).currentLeader()).toList();
    assertThat(leaders).extracting(Leader::term).containsOnly(leaders.get(0).term());
    assertThat(leaders.get(0).term()).isPositive();
    await()
        .atMost(DEADLINE)
        .until(() -> changes.stream().anyMatch(c -> c.toString().contains("motd")));
    assertThat(written).isPositive();
  }

  @Test
  void aKilledLeadersSessionHandsTheLeadOnWithAHigherTermAndItsFencedSendsAreRefused()
      throws Exception {
    DefaultMesh leaders = meshOn(0);
    DefaultMesh standby = meshOn(1);
    DefaultMesh other = meshOn(2);
    List<String> oneGot = new CopyOnWriteArrayList<>();
    MeshService one = register(leaders, ONE, oneGot);
    MeshService two = register(standby, TWO, new CopyOnWriteArrayList<>());
    MeshService client =
        register(other, ServiceUrl.parse("game.zone1.client/1"), new ArrayList<>());
    one.campaign().subscribe();
    await().atMost(DEADLINE).until(() -> other.router(LOBBY).currentLeader().isLeader(ONE));
    two.campaign().subscribe();
    Leader first = client.sendToLeader(LOBBY, ByteString.copyFromUtf8("fresh")).block(DEADLINE);
    await().atMost(DEADLINE).until(() -> oneGot.contains("fresh"));

    // Kill the leader's session: revoke its lease, as when its node vanishes.
    try (Client admin = Client.builder().endpoints(etcd.endpoints().split(",")).build()) {
      var held =
          admin
              .getKVClient()
              .get(io.etcd.jetcd.ByteSequence.from("/skymesh/svc/game.zone1.lobby/i/1".getBytes()))
              .get();
      admin.getLeaseClient().revoke(held.getKvs().get(0).getLease()).get();
    }
    await().atMost(DEADLINE).until(() -> other.router(LOBBY).currentLeader().isLeader(TWO));
    await().atMost(DEADLINE).until(() -> leaders.router(LOBBY).currentLeader().isLeader(TWO));
    Leader second = other.router(LOBBY).currentLeader();
    assertThat(second.term()).isGreaterThan(first.term());

    // A message fenced with the deposed leader's term is refused by it.
    other
        .dataPlane()
        .send(client.url(), ONE, Map.of(), ByteString.copyFromUtf8("stale"), first.term())
        .block(DEADLINE);
    client.sendTo(ONE, ByteString.copyFromUtf8("unfenced")).block(DEADLINE);
    await().atMost(DEADLINE).until(() -> oneGot.contains("unfenced"));
    assertThat(oneGot).containsExactly("fresh", "unfenced");
    assertThat(leaders.fencedMessages()).isEqualTo(1);
    // The sender hears of it.
    await().atMost(DEADLINE).until(() -> client.undeliveredCount() == 1);
  }
}

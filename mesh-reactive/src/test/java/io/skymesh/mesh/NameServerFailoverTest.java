package io.skymesh.mesh;

import static io.skymesh.mesh.TestMeshes.DEADLINE;
import static io.skymesh.mesh.TestMeshes.register;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.skymesh.core.ServiceName;
import io.skymesh.mesh.internal.DefaultMesh;
import io.skymesh.mesh.internal.naming.NameServerClient;
import io.skymesh.mesh.internal.naming.StallingProxy;
import io.skymesh.nameserver.NameServer;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * A mesh given several name-server nodes moves to another when its node dies or freezes, within one
 * session TTL: its instances are registered there and its routers converge on that node's state
 * through the resync, with no event dropped afterwards. The nodes here are independent embedded
 * servers, so each holds only what was registered with it.
 */
class NameServerFailoverTest {

  private static final ServiceName LOBBY = ServiceName.parse("game.zone1.lobby");
  private static final Duration TTL = Duration.ofSeconds(3);

  private final List<NameServer> servers = new ArrayList<>();
  private final List<StallingProxy> proxies = new ArrayList<>();
  private final List<Mesh> meshes = new ArrayList<>();

  @AfterEach
  void closeEverything() {
    meshes.forEach(mesh -> mesh.close().block(DEADLINE));
    proxies.forEach(StallingProxy::close);
    servers.forEach(server -> server.closeNow(DEADLINE));
  }

  @Test
  void meshMovesToAnotherNodeWhenItsNodeIsDisposed() {
    NameServer first = server();
    NameServer second = server();
    Mesh mesh = mesh(address(first) + "," + address(second));
    NameServerClient client = ((DefaultMesh) mesh).nameServerClient();
    NameServer used = client.nameServer().getPort() == first.port() ? first : second;
    NameServer other = used == first ? second : first;
    Mesh bystander = mesh(address(other));
    register(bystander, "game.zone1.lobby/9");
    register(mesh, "game.zone1.lobby/1");
    NameRouter router = mesh.router(LOBBY);
    Queue<MembershipEvent> events = new ConcurrentLinkedQueue<>();
    router.members().subscribe(events::add);
    await().atMost(DEADLINE).until(() -> urls(router).equals(Set.of("1")));

    long lost = System.nanoTime();
    used.closeNow(DEADLINE);
    await()
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(10))
        .until(() -> client.connected() && client.nameServer().getPort() == other.port());
    Duration moved = Duration.ofNanos(System.nanoTime() - lost);
    LoggerFactory.getLogger(NameServerFailoverTest.class).info("Left the closed node in {}", moved);
    assertThat(moved).isLessThan(TTL);

    NameRouter seenThere = bystander.router(LOBBY);
    await().atMost(DEADLINE).until(() -> urls(seenThere).equals(Set.of("1", "9")));
    await().atMost(DEADLINE).until(() -> urls(router).equals(Set.of("1", "9")));
    register(bystander, "game.zone1.lobby/2");
    await().atMost(DEADLINE).until(() -> urls(router).equals(Set.of("1", "2", "9")));
    assertThat(events)
        .extracting(e -> e.type() + " " + e.instance().url().instanceId())
        .containsExactly("ADDED 1", "ADDED 9", "ADDED 2");
  }

  @Test
  void meshMovesToAnotherNodeWhenItsNodeFreezes() {
    NameServer first = server();
    NameServer second = server();
    StallingProxy toFirst = proxy(first);
    StallingProxy toSecond = proxy(second);
    Mesh mesh = mesh(address(toFirst.address()) + "," + address(toSecond.address()));
    NameServerClient client = ((DefaultMesh) mesh).nameServerClient();
    boolean onFirst = client.nameServer().getPort() == toFirst.address().getPort();
    StallingProxy used = onFirst ? toFirst : toSecond;
    int otherPort = (onFirst ? toSecond : toFirst).address().getPort();
    Mesh bystander = mesh(address(onFirst ? second : first));
    register(bystander, "game.zone1.lobby/9");
    register(mesh, "game.zone1.lobby/1");
    NameRouter router = mesh.router(LOBBY);
    Queue<MembershipEvent> events = new ConcurrentLinkedQueue<>();
    router.members().subscribe(events::add);
    await().atMost(DEADLINE).until(() -> urls(router).equals(Set.of("1")));

    long frozen = System.nanoTime();
    used.freeze();
    await()
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(10))
        .until(() -> client.connected() && client.nameServer().getPort() == otherPort);
    Duration moved = Duration.ofNanos(System.nanoTime() - frozen);
    LoggerFactory.getLogger(NameServerFailoverTest.class).info("Left the frozen node in {}", moved);
    assertThat(moved).isLessThan(TTL);

    await().atMost(DEADLINE).until(() -> urls(bystander.router(LOBBY)).equals(Set.of("1", "9")));
    await().atMost(DEADLINE).until(() -> urls(router).equals(Set.of("1", "9")));
    register(bystander, "game.zone1.lobby/2");
    await().atMost(DEADLINE).until(() -> urls(router).equals(Set.of("1", "2", "9")));
    assertThat(events)
        .extracting(e -> e.type() + " " + e.instance().url().instanceId())
        .containsExactly("ADDED 1", "ADDED 9", "ADDED 2");
  }

  private NameServer server() {
    NameServer server = NameServer.builder().port(0).start().block(DEADLINE);
    servers.add(server);
    return server;
  }

  private StallingProxy proxy(NameServer server) {
    StallingProxy proxy =
        new StallingProxy(InetSocketAddress.createUnresolved("127.0.0.1", server.port()), DEADLINE);
    proxies.add(proxy);
    return proxy;
  }

  private Mesh mesh(String nameServers) {
    Mesh mesh =
        Mesh.builder("game")
            .nameServers(nameServers)
            .sessionTtl(TTL)
            .reconnectBackoff(Duration.ofMillis(50), Duration.ofMillis(500))
            .start()
            .block(DEADLINE);
    meshes.add(mesh);
    return mesh;
  }

  private static String address(NameServer server) {
    return "127.0.0.1:" + server.port();
  }

  private static String address(InetSocketAddress address) {
    return address.getHostString() + ":" + address.getPort();
  }

  private static Set<String> urls(NameRouter router) {
    return router.currentView().instances().stream()
        .map(i -> i.url().instanceId())
        .collect(Collectors.toSet());
  }
}

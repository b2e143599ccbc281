package io.skymesh.mesh.routing;

import static io.skymesh.mesh.TestMeshes.DEADLINE;
import static io.skymesh.mesh.TestMeshes.register;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.Instance;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.NameRouter;
import io.skymesh.mesh.TestMeshes;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/**
 * Lowest latency over real peers: the mesh pings the processes it talks to and the policy follows
 * the measured round trips.
 */
class LowestLatencyIntegrationTest {

  private static final ServiceName CHAT = ServiceName.parse("game.zone1.chat");
  private static final ServiceUrl FAST = ServiceUrl.parse("game.zone1.chat/fast");
  private static final ServiceUrl SLOW = ServiceUrl.parse("game.zone1.chat/slow");
  private static final ByteString HELLO = ByteString.copyFromUtf8("hello");

  private final TestMeshes meshes = TestMeshes.withNameServer();

  @AfterEach
  void close() {
    meshes.close();
  }

  @Test
  void trafficMovesToTheFasterPeerWhenTheOtherIsSlowedDown() {
    AtomicInteger slowReceived = new AtomicInteger();
    register(meshes.mesh(), FAST.toString());
    // Each message takes the slow peer 20 ms; a Ping queued behind a backlog waits for all of it.
    register(
        meshes.mesh(),
        SLOW.toString(),
        message -> {
          slowReceived.incrementAndGet();
          return Mono.delay(Duration.ofMillis(20)).then();
        });
    Mesh client = pingingMesh();
    MeshService lobby = register(client, "game.zone1.lobby/1");
    NameRouter router = client.router(CHAT);
    await().atMost(DEADLINE).until(() -> router.currentView().size() == 2);

    // Both get traffic: the fast one a message, the slow one a backlog of 4 s of work.
    lobby.sendTo(FAST, HELLO).block(DEADLINE);
    Flux.range(0, 200).concatMap(i -> lobby.sendTo(SLOW, HELLO)).blockLast(DEADLINE);
    PeerStatsRecorder stats = router.peerStats();
    await()
        .atMost(DEADLINE)
        .until(
            () ->
                !Double.isNaN(stats.latencyNanos(FAST))
                    && stats.latencyNanos(SLOW) > 10 * stats.latencyNanos(FAST));

    Map<String, Integer> picks = routeWithLowestLatency(lobby, router, 200);
    assertThat(picks).containsEntry("fast", 200);
    // The slow peer was working through its backlog all along; it got none of the routed ones.
    assertThat(slowReceived.get()).isLessThanOrEqualTo(200);
  }

  @Test
  void unansweredPingsPushTrafficAway() {
    register(meshes.mesh(), FAST.toString());
    // The stalled peer holds the first message forever: it reads nothing after it, Pings included.
    Sinks.Empty<Void> stall = Sinks.empty();
    try {
      register(meshes.mesh(), SLOW.toString(), message -> stall.asMono());
      Mesh client = pingingMesh();
      MeshService lobby = register(client, "game.zone1.lobby/1");
      NameRouter router = client.router(CHAT);
      await().atMost(DEADLINE).until(() -> router.currentView().size() == 2);
      lobby.sendTo(FAST, HELLO).block(DEADLINE);
      lobby.sendTo(SLOW, HELLO).block(DEADLINE);

      PeerStatsRecorder stats = router.peerStats();
      await()
          .atMost(DEADLINE)
          .until(
              () ->
                  !Double.isNaN(stats.latencyNanos(SLOW))
                      && stats.latencyNanos(SLOW) > 10 * stats.latencyNanos(FAST));
      assertThat(routeWithLowestLatency(lobby, router, 100)).containsEntry("fast", 100);
    } finally {
      stall.tryEmitEmpty();
    }
  }

  @Test
  void aMeshWithPingsOffMeasuresNothing() {
    register(meshes.mesh(), FAST.toString());
    Mesh client =
        meshes.adopt(
            Mesh.builder("game")
                .nameServer("127.0.0.1:" + meshes.nameServer().port())
                .pingInterval(Duration.ZERO)
                .start()
                .block(DEADLINE));
    MeshService lobby = register(client, "game.zone1.lobby/1");
    NameRouter router = client.router(CHAT);
    await().atMost(DEADLINE).until(() -> router.currentView().size() == 1);
    lobby.sendTo(FAST, HELLO).block(DEADLINE);
    // A mesh that does ping would have measured it well within this time.
    Mesh pinging = pingingMesh();
    MeshService other = register(pinging, "game.zone1.lobby/2");
    NameRouter pingingRouter = pinging.router(CHAT);
    await().atMost(DEADLINE).until(() -> pingingRouter.currentView().size() == 1);
    other.sendTo(FAST, HELLO).block(DEADLINE);
    await()
        .atMost(DEADLINE)
        .until(() -> !Double.isNaN(pingingRouter.peerStats().latencyNanos(FAST)));
    assertThat(router.peerStats().latencyNanos(FAST)).isNaN();
  }

  private Mesh pingingMesh() {
    return meshes.adopt(
        Mesh.builder("game")
            .nameServer("127.0.0.1:" + meshes.nameServer().port())
            .pingInterval(Duration.ofMillis(50))
            .start()
            .block(DEADLINE));
  }

  /** Sends {@code count} messages routed by lowest latency; how many went to each instance id. */
  private static Map<String, Integer> routeWithLowestLatency(
      MeshService lobby, NameRouter router, int count) {
    RoutingPolicy policy = RoutingPolicy.lowestLatency();
    Map<String, Integer> picks = new HashMap<>();
    Flux.range(0, count)
        .concatMap(i -> lobby.sendTo(router, policy, HELLO))
        .map(Instance::url)
        .doOnNext(url -> picks.merge(url.instanceId(), 1, Integer::sum))
        .blockLast(DEADLINE);
    return picks;
  }
}

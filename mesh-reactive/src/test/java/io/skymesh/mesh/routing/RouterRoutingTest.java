package io.skymesh.mesh.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;
import static org.awaitility.Awaitility.await;

import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.NoAvailableInstanceException;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.NameRouter;
import io.skymesh.nameserver.NameServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.test.StepVerifier;

/** Routers apply policies to the live view of a real name server's membership. */
class RouterRoutingTest {

  private static final Duration DEADLINE = Duration.ofSeconds(20);
  private static final ServiceName CHAT = ServiceName.parse("game.zone1.chat");

  private NameServer nameServer;
  private final List<Mesh> meshes = new ArrayList<>();

  @BeforeEach
  void startNameServer() {
    nameServer = NameServer.builder().port(0).start().block(DEADLINE);
  }

  @AfterEach
  void closeEverything() {
    meshes.forEach(mesh -> mesh.close().block(DEADLINE));
    if (nameServer != null) {
      nameServer.closeNow(DEADLINE);
    }
  }

  static Stream<RoutingPolicy> policies() {
    return Stream.of(
        RoutingPolicy.roundRobin(),
        RoutingPolicy.random(),
        RoutingPolicy.weightedRoundRobin(),
        RoutingPolicy.weightedRandom(),
        RoutingPolicy.modHash(),
        RoutingPolicy.hash(),
        RoutingPolicy.consistentHash(),
        RoutingPolicy.consistentHash(0.25),
        RoutingPolicy.leastOutstanding(),
        RoutingPolicy.lowestLatency(),
        RoutingPolicy.lowestLatency("not-this-process"));
  }

  @Test
  void selectAndRouteWaitForTheFirstViewInsteadOfFailing() {
    Mesh b = mesh();
    register(b, "game.zone1.chat/1");
    int port = nameServer.port();
    nameServer.closeNow(DEADLINE);
    // The routers are created while the name server is away: no view can arrive until it is back.
    NameRouter router = b.router(CHAT);
    Queue<Routed<Integer>> routed = new ConcurrentLinkedQueue<>();
    Disposable routing =
        reactor.core.publisher.Flux.range(0, 3)
            .transform(router.route(RoutingPolicy.roundRobin()))
            .subscribe(routed::add);
    try {
      StepVerifier.create(router.select(RoutingPolicy.roundRobin()))
          .expectSubscription()
          .expectNoEvent(Duration.ofMillis(300))
          .then(() -> assertThat(routed).isEmpty())
          .then(() -> nameServer = NameServer.builder().port(port).start().block(DEADLINE))
          .assertNext(
              instance -> {
                assertThat(instance.url()).hasToString("game.zone1.chat/1");
                // What the caller does next must not run on the control plane's event loop.
                assertThat(Thread.currentThread().getName()).doesNotContain("skymesh-control");
              })
          .expectComplete()
          .verify(DEADLINE);
      await().atMost(DEADLINE).until(() -> routed.size() == 3);
    } finally {
      routing.dispose();
    }
  }

  @Test
  void selectOnAServiceWithoutInstancesFailsTypedAndNamesIt() {
    Mesh a = mesh();
    StepVerifier.create(a.router(CHAT).select(RoutingPolicy.roundRobin()))
        .expectErrorSatisfies(
            e ->
                assertThat(e)
                    .isInstanceOf(NoAvailableInstanceException.class)
                    .hasMessageContaining("game.zone1.chat"))
        .verify(DEADLINE);
    StepVerifier.create(
            Mono.just("work").flux().transform(a.router(CHAT).route(RoutingPolicy.random())))
        .expectError(NoAvailableInstanceException.class)
        .verify(DEADLINE);
  }

  @Test
  void selectWithAKeyAndPolicyFailuresArriveAsErrors() {
    Mesh a = mesh();
    for (int i = 0; i < 3; i++) {
      register(a, "game.zone1.chat/" + i);
    }
    NameRouter router = a.router(CHAT);
    await().atMost(DEADLINE).until(() -> router.currentView().size() == 3);

    StepVerifier.create(router.select(RoutingPolicy.modHash(), 4L))
        .assertNext(instance -> assertThat(instance.url()).hasToString("game.zone1.chat/1"))
        .expectComplete()
        .verify(DEADLINE);
    StepVerifier.create(router.select(RoutingPolicy.modHash()))
        .expectErrorMessage(
            "key: null (expected: a routing key for modHash(); use select(policy, key) or"
                + " route(policy, keyFunction))")
        .verify(DEADLINE);
    // Nobody campaigns: nobody leads (ElectionTest covers a leader).
    StepVerifier.create(router.select(RoutingPolicy.leader()))
        .expectError(NoAvailableInstanceException.class)
        .verify(DEADLINE);
    assertThatNullPointerException().isThrownBy(() -> router.select(null)).withMessage("policy");
    assertThatNullPointerException()
        .isThrownBy(() -> router.select(RoutingPolicy.hash(), null))
        .withMessage("key");
  }

  @ParameterizedTest
  @MethodSource("policies")
  void routedWorkFollowsMembershipLive(RoutingPolicy policy) {
    Mesh a = mesh();
    Mesh b = mesh();
    MeshService first = register(a, "game.zone1.chat/1");
    register(a, "game.zone1.chat/2");
    NameRouter router = b.router(CHAT);
    Sinks.Many<Integer> work = Sinks.many().unicast().onBackpressureBuffer();
    Queue<Routed<Integer>> routed = new ConcurrentLinkedQueue<>();
    Disposable routing =
        work.asFlux()
            .transform(router.route(policy, (Integer value) -> (long) value))
            .subscribe(routed::add);
    try {
      await().atMost(DEADLINE).until(() -> router.currentView().size() == 2);
      assertThat(routeBatch(work, routed, 0)).isSubsetOf("1", "2");

      register(a, "game.zone1.chat/3");
      await().atMost(DEADLINE).until(() -> router.currentView().size() == 3);
      assertThat(routeBatch(work, routed, 100)).contains("3").isSubsetOf("1", "2", "3");

      first.close().block(DEADLINE);
      await().atMost(DEADLINE).until(() -> router.currentView().size() == 2);
      assertThat(routeBatch(work, routed, 200)).isSubsetOf("2", "3");
      assertThat(router.peerStats().inFlight(first.url())).isZero();
    } finally {
      routing.dispose();
    }
  }

  @Test
  void peerStatsAreTheRoutersAndSteerLeastOutstanding() {
    Mesh a = mesh();
    register(a, "game.zone1.chat/1");
    register(a, "game.zone1.chat/2");
    NameRouter router = a.router(CHAT);
    await().atMost(DEADLINE).until(() -> router.currentView().size() == 2);
    assertThat(router.peerStats()).isSameAs(router.peerStats());
    Sinks.Empty<Void> slowReply = Sinks.empty();
    Disposable busy =
        router
            .peerStats()
            .record(ServiceUrl.parse("game.zone1.chat/1"), slowReply.asMono())
            .subscribe();
    try {
      for (int i = 0; i < 50; i++) {
        StepVerifier.create(router.select(RoutingPolicy.leastOutstanding()))
            .assertNext(instance -> assertThat(instance.url()).hasToString("game.zone1.chat/2"))
            .expectComplete()
            .verify(DEADLINE);
      }
    } finally {
      busy.dispose();
    }
  }

  /** Routes 60 elements starting at {@code from}; the instance ids they went to. */
  private static Set<String> routeBatch(
      Sinks.Many<Integer> work, Queue<Routed<Integer>> routed, int from) {
    routed.clear();
    for (int i = from; i < from + 60; i++) {
      work.emitNext(i, Sinks.EmitFailureHandler.FAIL_FAST);
    }
    await().atMost(DEADLINE).until(() -> routed.size() == 60);
    return routed.stream().map(r -> r.instance().url().instanceId()).collect(Collectors.toSet());
  }

  private Mesh mesh() {
    Mesh mesh =
        Mesh.builder("game")
            .nameServer("127.0.0.1:" + nameServer.port())
            .sessionTtl(Duration.ofSeconds(2))
            .reconnectBackoff(Duration.ofMillis(50), Duration.ofMillis(500))
            .start()
            .block(DEADLINE);
    meshes.add(mesh);
    return mesh;
  }

  private static MeshService register(Mesh mesh, String url) {
    return mesh.register(ServiceUrl.parse(url), m -> Mono.empty()).block(DEADLINE);
  }
}

package io.skymesh.mesh;

import static io.skymesh.mesh.TestMeshes.DEADLINE;
import static io.skymesh.mesh.TestMeshes.register;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.skymesh.core.ServiceName;
import io.skymesh.core.exceptions.MeshClosedException;
import io.skymesh.mesh.routing.RoutingPolicy;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.test.StepVerifier;
import reactor.test.subscriber.TestSubscriber;

/**
 * Every public stream of a mesh ends with a typed signal when the mesh closes: a subscriber from
 * before the close sees it complete, one from after fails at once with {@link MeshClosedException}.
 */
class MeshLifecycleTest {

  private static final ServiceName LOBBY = ServiceName.parse("game.zone1.lobby");

  private TestMeshes fixture;
  private Mesh watcher;

  @BeforeEach
  void startMeshes() {
    fixture = TestMeshes.withNameServer();
    register(fixture.mesh(), "game.zone1.lobby/1").campaign().subscribe();
    watcher = fixture.mesh();
  }

  @AfterEach
  void closeEverything() {
    fixture.close();
  }

  private void closeWatcher() {
    watcher.close().block(DEADLINE);
  }

  /** A subscriber from before the close gets the current state, then completion at the close. */
  private <T> void completesAtTheClose(Flux<T> stream) {
    TestSubscriber<T> subscriber = TestSubscriber.create();
    stream.subscribe(subscriber);
    await().atMost(DEADLINE).until(() -> !subscriber.getReceivedOnNext().isEmpty());
    assertThat(subscriber.isTerminated()).isFalse();
    closeWatcher();
    await().atMost(DEADLINE).until(subscriber::isTerminated);
    assertThat(subscriber.isTerminatedComplete()).isTrue();
  }

  /** After the close, on the router that existed and on one asked for afterwards. */
  private <T> void failsAfterTheClose(Function<NameRouter, Flux<T>> stream) {
    NameRouter before = watcher.router(LOBBY);
    closeWatcher();
    StepVerifier.create(stream.apply(before))
        .expectError(MeshClosedException.class)
        .verify(DEADLINE);
    StepVerifier.create(stream.apply(watcher.router(ServiceName.parse("game.zone1.other"))))
        .expectError(MeshClosedException.class)
        .verify(DEADLINE);
  }

  @Test
  void membersCompleteAtTheClose() {
    completesAtTheClose(watcher.router(LOBBY).members());
  }

  @Test
  void membersFailAfterTheClose() {
    failsAfterTheClose(NameRouter::members);
  }

  @Test
  void viewsCompleteAtTheClose() {
    completesAtTheClose(watcher.router(LOBBY).views().filter(view -> !view.isEmpty()));
  }

  @Test
  void viewsFailAfterTheClose() {
    failsAfterTheClose(NameRouter::views);
  }

  @Test
  void attributesCompleteAtTheClose() {
    completesAtTheClose(watcher.router(LOBBY).attributes());
  }

  @Test
  void attributesFailAfterTheClose() {
    failsAfterTheClose(NameRouter::attributes);
  }

  @Test
  void leaderCompletesAtTheClose() {
    completesAtTheClose(watcher.router(LOBBY).leader().filter(Leader::isPresent));
  }

  @Test
  void leaderFailsAfterTheClose() {
    failsAfterTheClose(NameRouter::leader);
  }

  @Test
  void firstViewAndSelectFailAfterTheClose() {
    failsAfterTheClose(router -> router.firstView().flux());
    failsAfterTheClose(router -> router.select(RoutingPolicy.roundRobin()).flux());
  }

  @Test
  void routedWorkFailsAfterTheClose() {
    NameRouter router = watcher.router(LOBBY);
    StepVerifier.create(Flux.just(1).transform(router.route(RoutingPolicy.roundRobin())))
        .expectNextCount(1)
        .expectComplete()
        .verify(DEADLINE);
    failsAfterTheClose(r -> Flux.just(1).transform(r.route(RoutingPolicy.roundRobin())));
  }

  @Test
  void configWatchCompletesAtTheClose() {
    watcher.config().put("game/a", "1").block(DEADLINE);
    completesAtTheClose(watcher.config().watch("game/"));
  }

  @Test
  void configWatchWithNothingToReportCompletesAtTheClose() {
    TestSubscriber<ConfigChange> subscriber = TestSubscriber.create();
    watcher.config().watch("nothing/").subscribe(subscriber);
    closeWatcher();
    await().atMost(DEADLINE).until(subscriber::isTerminated);
    assertThat(subscriber.isTerminatedComplete()).isTrue();
    assertThat(subscriber.getReceivedOnNext()).isEmpty();
  }

  @Test
  void configWatchFailsAfterTheClose() {
    closeWatcher();
    StepVerifier.create(watcher.config().watch("game/"))
        .expectError(MeshClosedException.class)
        .verify(DEADLINE);
  }
}

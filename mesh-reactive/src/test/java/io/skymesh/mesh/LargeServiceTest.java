package io.skymesh.mesh;

import static io.skymesh.mesh.TestMeshes.DEADLINE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.routing.RoutingPolicy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.reactivestreams.Subscription;
import reactor.core.publisher.BaseSubscriber;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * Routers of services with thousands of instances, registered through the real name server: late
 * subscribers read the current members at their own pace, live changes are bounded, and a view of a
 * service of 100,000 instances is followed change by change and routed into.
 */
class LargeServiceTest {

  private static final ServiceName BIG = ServiceName.parse("game.zone1.big");
  private static final Duration BULK_DEADLINE = Duration.ofMinutes(2);

  private TestMeshes fixture;
  private BulkRegistrar registrar;
  private final List<BulkRegistrar> others = new ArrayList<>();

  @BeforeEach
  void startNameServer() {
    fixture = TestMeshes.withNameServer();
    registrar = BulkRegistrar.open(fixture.nameServer().port());
  }

  @AfterEach
  void closeEverything() {
    fixture.close(); // first: the watchers need not hear every instance of the registrars leave
    registrar.close();
    others.forEach(BulkRegistrar::close);
  }

  private NameRouter watch(int expected) {
    NameRouter router =
        fixture.mesh(builder -> builder.sessionTtl(Duration.ofSeconds(10))).router(BIG);
    await().atMost(DEADLINE).until(() -> router.currentView().size() == expected);
    return router;
  }

  private static Set<ServiceUrl> urls(Iterable<MembershipEvent> events) {
    Set<ServiceUrl> urls = new HashSet<>();
    for (MembershipEvent event : events) {
      assertThat(event.type()).isEqualTo(MembershipEvent.Type.ADDED);
      urls.add(event.instance().url());
    }
    return urls;
  }

  @Test
  void lateSubscribersOfFiveThousandInstancesGetEveryMemberAtTheirOwnPace() {
    registrar.register(BIG, 0, 5_000);
    NameRouter router = watch(5_000);

    // Read through a blocking iterable: it requests in small batches.
    assertThat(urls(router.members().take(5_000).toIterable())).hasSize(5_000);
    // Handed to another thread, which requests 256 at a time.
    List<MembershipEvent> published =
        router.members().publishOn(Schedulers.parallel()).take(5_000).collectList().block(DEADLINE);
    assertThat(urls(published)).hasSize(5_000);
    // Everything requested at once, but only after subscribing.
    List<MembershipEvent> received = Collections.synchronizedList(new ArrayList<>());
    AtomicReference<Throwable> failure = new AtomicReference<>();
    BaseSubscriber<MembershipEvent> late =
        new BaseSubscriber<>() {
          @Override
          protected void hookOnSubscribe(Subscription subscription) {}

          @Override
          protected void hookOnNext(MembershipEvent event) {
            received.add(event);
          }

          @Override
          protected void hookOnError(Throwable error) {
            failure.set(error);
          }
        };
    router.members().subscribe(late);
    late.request(Long.MAX_VALUE);
    await().atMost(DEADLINE).until(() -> received.size() >= 5_000 || failure.get() != null);
    assertThat(failure.get()).isNull();
    assertThat(urls(received)).hasSize(5_000);
    late.dispose();
    // The attributes of every member, the same way.
    assertThat(router.attributes().take(5_000).toStream().map(AttributesChange::url).distinct())
        .hasSize(5_000);
  }

  /**
   * How many instances the large service has: 100,000; {@code -Dskymesh.largeService.instances=N}
   * (a multiple of 10,000) for another size.
   */
  private static final int LARGE = Integer.getInteger("skymesh.largeService.instances", 100_000);

  @Test
  void aRouterFollowsALargeServiceChangeByChange() {
    // Ten sessions in parallel: the server reads a session's requests a few at a time and answers
    // them in order, so parallel sessions keep it busy. The registrations come before the watch,
    // so the router starts from one snapshot; the changes after it are applied one by one.
    int perSession = LARGE / 10;
    for (int i = 1; i < 10; i++) {
      others.add(BulkRegistrar.open(fixture.nameServer().port()));
    }
    Flux.range(0, 10)
        .flatMap(
            i ->
                Mono.fromRunnable(
                        () ->
                            (i == 0 ? registrar : others.get(i - 1))
                                .register(BIG, i * perSession, (i + 1) * perSession))
                    .subscribeOn(Schedulers.boundedElastic()))
        .then()
        // 100,000 take 7 to 15 s on this project's shared 2-core machine (load 4 to 8): CPU-bound
        // and linear, about 130 µs of CPU per Register at both ends together (protobuf, the
        // paranoid leak detector, the server's Register path), JIT warm-up included.
        .block(BULK_DEADLINE);
    aRouterFollowsTheInstancesChangeByChange();
  }

  private void aRouterFollowsTheInstancesChangeByChange() {
    NameRouter router = watch(LARGE);
    ServiceView first = router.currentView();

    // A members() subscriber from now on gets every member, then the changes below.
    List<MembershipEvent> events = Collections.synchronizedList(new ArrayList<>());
    router.members().publishOn(Schedulers.parallel()).subscribe(events::add);
    await().atMost(DEADLINE).until(() -> events.size() == LARGE);
    assertThat(urls(events)).hasSize(LARGE);

    registrar.deregister(BIG, 0, 1_000);
    registrar.register(BIG, LARGE, LARGE + 1_000);
    await().atMost(DEADLINE).until(() -> events.size() == LARGE + 2_000);
    assertThat(events.subList(LARGE, LARGE + 2_000))
        .extracting(MembershipEvent::type)
        .containsOnly(MembershipEvent.Type.ADDED, MembershipEvent.Type.REMOVED)
        .filteredOn(type -> type == MembershipEvent.Type.REMOVED)
        .hasSize(1_000);

    ServiceView now = router.currentView();
    assertThat(now.size()).isEqualTo(LARGE);
    assertThat(now.instance(ServiceUrl.parse(BulkRegistrar.url(BIG, 0)))).isEmpty();
    assertThat(now.instance(ServiceUrl.parse(BulkRegistrar.url(BIG, LARGE + 500)))).isPresent();
    assertThat(now.instances().get(0).url().toString()).isEqualTo(BulkRegistrar.url(BIG, 1_000));
    assertThat(now.instances().get(LARGE - 1).url().toString())
        .isEqualTo(BulkRegistrar.url(BIG, LARGE + 999));
    // The view before the changes is untouched.
    assertThat(first.size()).isEqualTo(LARGE);
    assertThat(first.instance(ServiceUrl.parse(BulkRegistrar.url(BIG, 0)))).isPresent();
    // Picks on the view.
    Instance picked = router.select(RoutingPolicy.roundRobin()).block(DEADLINE);
    assertThat(now.instance(picked.url())).contains(picked);
    assertThat(router.select(RoutingPolicy.consistentHash(), "user-7").block(DEADLINE)).isNotNull();
  }
}

package io.skymesh.mesh.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.skymesh.core.exceptions.NoAvailableInstanceException;
import io.skymesh.mesh.Instance;
import io.skymesh.mesh.Leader;
import io.skymesh.mesh.ServiceView;
import io.skymesh.mesh.internal.routing.LowestLatencyPolicy;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import reactor.core.publisher.Flux;
import reactor.core.scheduler.Schedulers;

/** Behaviour every policy shares, and the latency policy's cases. */
class RoutingPolicyTest {

  private static final long MILLI = 1_000_000;

  static Stream<RoutingPolicy> everyPolicy() {
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
        RoutingPolicy.lowestLatency("p1"));
  }

  static Stream<RoutingPolicy> keyedPolicies() {
    return Stream.of(
        RoutingPolicy.modHash(),
        RoutingPolicy.hash(),
        RoutingPolicy.consistentHash(),
        RoutingPolicy.consistentHash(0.25));
  }

  @ParameterizedTest
  @MethodSource("everyPolicy")
  void emptyViewFailsTypedAndNamesTheService(RoutingPolicy policy) {
    assertThatThrownBy(() -> policy.select(ServiceView.empty(Views.SERVICE), 7L, PeerStats.none()))
        .isInstanceOf(NoAvailableInstanceException.class)
        .hasMessageContaining("game.zone1.svc");
  }

  @ParameterizedTest
  @MethodSource("keyedPolicies")
  void keyedPolicyWithoutKeyFailsClearly(RoutingPolicy policy) {
    assertThatIllegalArgumentException()
        .isThrownBy(() -> policy.select(Views.of(3), null, PeerStats.none()))
        .withMessageContaining("key: null")
        .withMessageContaining(policy.toString());
  }

  @Test
  void leaderIsAPureFunctionOfTheView() {
    ServiceView view = Views.of(3);
    assertThatThrownBy(() -> RoutingPolicy.leader().select(view, null, PeerStats.none()))
        .isInstanceOf(NoAvailableInstanceException.class)
        .hasMessageContaining("no leader of " + Views.SERVICE);
    Instance second = view.instances().get(1);
    Leader leads = new Leader(Views.SERVICE, Optional.of(second.url()), 4, 2);
    ServiceView led = view.withLeader(leads, 2);
    assertThat(RoutingPolicy.leader().select(led, null, PeerStats.none())).isSameAs(second);
    assertThat(led.leader()).isEqualTo(leads);
    assertThat(view.leaderInstance()).isEmpty(); // the view before is unchanged
    // A leader the view does not hold (it left, or is not known yet) is no pick.
    ServiceView gone = led.without(second.url(), 3);
    assertThatThrownBy(() -> RoutingPolicy.leader().select(gone, null, PeerStats.none()))
        .isInstanceOf(NoAvailableInstanceException.class)
        .hasMessageContaining("in the view (" + second.url() + ")");
    // Allocation-free like the others once the view exists.
    com.sun.management.ThreadMXBean threads =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    int calls = 100_000;
    for (int i = 0; i < calls; i++) {
      RoutingPolicy.leader().select(led, null, PeerStats.none());
    }
    long before = threads.getCurrentThreadAllocatedBytes();
    for (int i = 0; i < calls; i++) {
      RoutingPolicy.leader().select(led, null, PeerStats.none());
    }
    assertThat(threads.getCurrentThreadAllocatedBytes() - before).isLessThan(calls);
  }

  @Test
  void badFactoryArgumentsFailFast() {
    assertThatIllegalArgumentException()
        .isThrownBy(() -> RoutingPolicy.consistentHash(-0.5))
        .withMessage("epsilon: -0.5 (expected: >= 0)");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> RoutingPolicy.consistentHash(Double.NaN))
        .withMessageContaining("epsilon: NaN");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> RoutingPolicy.lowestLatency("p", 0))
        .withMessage("maxLocalInFlight: 0 (expected: >= 1)");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> PeerStatsRecorder.create(0))
        .withMessageContaining("smoothing: 0.0");
  }

  @ParameterizedTest
  @MethodSource("everyPolicy")
  void everyPolicyFollowsANewViewAtOnce(RoutingPolicy policy) {
    ServiceView before = Views.ofIds(List.of("a", "b", "c"), 1);
    ServiceView after = Views.ofIds(List.of("b", "c", "d", "e"), 2);
    for (int k = 0; k < 200; k++) {
      policy.select(before, (long) k, PeerStats.none());
    }
    Set<String> chosen = new HashSet<>();
    for (int k = 0; k < 2000; k++) {
      chosen.add(policy.select(after, (long) k, PeerStats.none()).url().instanceId());
    }
    assertThat(chosen).doesNotContain("a").containsExactlyInAnyOrder("b", "c", "d", "e");
  }

  @ParameterizedTest
  @MethodSource("everyPolicy")
  void selectionAllocatesNothingOnceTheViewIsKnown(RoutingPolicy policy) {
    com.sun.management.ThreadMXBean threads =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    ServiceView view = Views.weighted(List.of(3, 1, 4, 1, 5, 9, 2, 6));
    PeerStatsRecorder stats = PeerStatsRecorder.create();
    for (Instance instance : view.instances()) {
      stats.peer(instance.url()).finished(MILLI * instance.weight());
      stats.peer(instance.url()).started();
    }
    Long[] keys = new Long[1024];
    for (int i = 0; i < keys.length; i++) {
      keys[i] = i * 7919L;
    }
    int calls = 100_000;
    for (int i = 0; i < calls; i++) {
      policy.select(view, keys[i & 1023], stats);
    }
    long before = threads.getCurrentThreadAllocatedBytes();
    for (int i = 0; i < calls; i++) {
      policy.select(view, keys[i & 1023], stats);
    }
    long allocated = threads.getCurrentThreadAllocatedBytes() - before;
    // One object per call would be at least 16 bytes a call.
    assertThat(allocated).as("bytes allocated by %s calls of %s", calls, policy).isLessThan(calls);
  }

  @Test
  void roundRobinIsExactUnderConcurrency() {
    ServiceView view = Views.of(7);
    RoutingPolicy policy = RoutingPolicy.roundRobin();
    Map<String, AtomicInteger> counts = new ConcurrentHashMap<>();
    int picks = 7 * 20_000;
    Flux.range(0, picks)
        .parallel(4)
        .runOn(Schedulers.parallel())
        .doOnNext(
            i ->
                counts
                    .computeIfAbsent(
                        policy.select(view, null, PeerStats.none()).url().instanceId(),
                        id -> new AtomicInteger())
                    .incrementAndGet())
        .sequential()
        .blockLast(Duration.ofSeconds(20));
    assertThat(counts).hasSize(7);
    counts.values().forEach(count -> assertThat(count.get()).isEqualTo(20_000));
  }

  @Test
  void lowestLatencyPicksTheFasterOfTwoAndNeverTheSlowest() {
    ServiceView view = Views.of(3);
    PeerStatsRecorder stats = PeerStatsRecorder.create();
    sample(stats, view, 0, 30);
    sample(stats, view, 1, 10);
    sample(stats, view, 2, 20);
    // Two of three drawn: the fastest wins both pairs it is in (2/3), the middle one its pair with
    // the slowest (1/3), the slowest none.
    int[] counts = new int[3];
    RoutingPolicy policy = RoutingPolicy.lowestLatency();
    for (int i = 0; i < 3000; i++) {
      counts[Views.indexOf(view, policy.select(view, null, stats))]++;
    }
    assertThat(counts[0]).isZero();
    assertThat(counts[1]).isBetween(1800, 2200);
    assertThat(counts[2]).isBetween(800, 1200);
    // Between two, the faster always wins.
    ServiceView pair = Views.of(2);
    sample(stats, pair, 0, 30);
    sample(stats, pair, 1, 10);
    for (int i = 0; i < 100; i++) {
      assertThat(policy.select(pair, null, stats)).isSameAs(pair.instances().get(1));
    }
  }

  @Test
  void lowestLatencyGivesNewInstancesANeutralEstimateNotZero() {
    ServiceView view = Views.of(3);
    PeerStatsRecorder stats = PeerStatsRecorder.create();
    sample(stats, view, 0, 10);
    sample(stats, view, 1, 30);
    // Instance 2 is new: its estimate is the mean of the measured (20 ms), so it loses to the 10 ms
    // one and beats only the 30 ms one, instead of drawing everything as skymesh's RTT 0 did.
    RoutingPolicy policy = RoutingPolicy.lowestLatency();
    int[] three = new int[3];
    for (int i = 0; i < 3000; i++) {
      three[Views.indexOf(view, policy.select(view, null, stats))]++;
    }
    assertThat(three[0]).isBetween(1800, 2200);
    assertThat(three[1]).isZero();
    assertThat(three[2]).isBetween(800, 1200);
    // With one measured instance, the newcomer ties with it and they share the traffic.
    ServiceView pair = Views.of(2);
    PeerStatsRecorder one = PeerStatsRecorder.create();
    sample(one, pair, 0, 10);
    int[] counts = new int[2];
    for (int i = 0; i < 2000; i++) {
      counts[Views.indexOf(pair, policy.select(pair, null, one))]++;
    }
    assertThat(counts[1]).isBetween(800, 1200);
  }

  @Test
  void lowestLatencyOverALargeViewFavoursTheFastAndNeverPicksTheSlowest() {
    int n = 1000;
    ServiceView view = Views.of(n);
    PeerStatsRecorder stats = PeerStatsRecorder.create();
    for (int i = 0; i < n; i++) {
      sample(stats, view, i, 1 + i); // instance i is the (i + 1)-th fastest
    }
    RoutingPolicy policy = RoutingPolicy.lowestLatency();
    int picks = 100_000;
    int[] counts = new int[n];
    for (int i = 0; i < picks; i++) {
      counts[Views.indexOf(view, policy.select(view, null, stats))]++;
    }
    assertThat(counts[n - 1]).as("the slowest").isZero();
    int fasterHalf = 0;
    for (int i = 0; i < n / 2; i++) {
      fasterHalf += counts[i];
    }
    // The faster half wins unless both drawn are from the slower half: 1 - (1/2)(499/999) = 0.750.
    assertThat(fasterHalf).isBetween(73_500, 76_500);
    // The fastest wins every pair it is in: 2/n of the picks, 200 of 100,000.
    assertThat(counts[0]).isBetween(120, 280);
  }

  @Test
  void lowestLatencyFollowsTheLocalInstancesOfEachView() {
    Instance remote = Views.instance(Views.SERVICE, "a-remote", 1, Map.of(), "far");
    Instance local = Views.instance(Views.SERVICE, "b-local", 1, Map.of(), "me");
    Instance other = Views.instance(Views.SERVICE, "c-remote", 1, Map.of(), "far");
    RoutingPolicy policy = RoutingPolicy.lowestLatency("me", 2);
    PeerStatsRecorder stats = PeerStatsRecorder.create();
    stats.peer(remote.url()).sample(MILLI);
    stats.peer(other.url()).sample(2 * MILLI);
    ServiceView withLocal = ServiceView.of(Views.SERVICE, List.of(remote, local, other), 1);
    assertThat(policy.select(withLocal, null, stats)).isSameAs(local);
    // The local instance left: the next view's remote ones, the faster of two winning.
    ServiceView without = ServiceView.of(Views.SERVICE, List.of(remote, other), 2);
    assertThat(policy.select(without, null, stats)).isSameAs(remote);
    // Back again in a later view.
    ServiceView back = ServiceView.of(Views.SERVICE, List.of(remote, local, other), 3);
    assertThat(policy.select(back, null, stats)).isSameAs(local);
  }

  @Test
  void lowestLatencyBreaksTiesByLoadThenSpreadsThem() {
    ServiceView view = Views.of(4);
    PeerStatsRecorder stats = PeerStatsRecorder.create();
    stats.peer(view.instances().get(0).url()).started();
    int[] counts = new int[4];
    for (int i = 0; i < 3000; i++) {
      counts[Views.indexOf(view, RoutingPolicy.lowestLatency().select(view, null, stats))]++;
    }
    assertThat(counts[0]).isZero();
    assertThat(counts[1]).isBetween(800, 1200);
    assertThat(counts[2]).isBetween(800, 1200);
    assertThat(counts[3]).isBetween(800, 1200);
  }

  @Test
  void unansweredPingsMakeAPeerSlow() {
    ServiceView view = Views.of(2);
    PeerStatsRecorder stats = PeerStatsRecorder.create();
    sample(stats, view, 0, 1);
    sample(stats, view, 1, 5);
    RoutingPolicy policy = RoutingPolicy.lowestLatency();
    assertThat(policy.select(view, null, stats)).isSameAs(view.instances().get(0));
    // One ping unanswered for 50 ms: 1 + (50 - 1) / 3 ms, slower than the 5 ms peer.
    stats.peer(view.instances().get(0).url()).unanswered(50 * MILLI);
    assertThat(policy.select(view, null, stats)).isSameAs(view.instances().get(1));
  }

  @Test
  void localInstanceWinsWhileHealthyThenTheFastestRemote() {
    List<Instance> instances = new ArrayList<>();
    instances.add(Views.instance(Views.SERVICE, "a-remote", 1, Map.of(), "far"));
    instances.add(Views.instance(Views.SERVICE, "b-local", 1, Map.of(), "me"));
    instances.add(Views.instance(Views.SERVICE, "c-local", 1, Map.of(), "me"));
    ServiceView view = ServiceView.of(Views.SERVICE, instances, 1);
    PeerStatsRecorder stats = PeerStatsRecorder.create();
    sample(stats, view, 0, 1);
    RoutingPolicy policy = RoutingPolicy.lowestLatency("me", 2);

    stats.peer(instances.get(1).url()).started();
    // Both local ones are healthy: the less busy wins, though the remote is measured fast.
    assertThat(policy.select(view, null, stats).url().instanceId()).isEqualTo("c-local");
    stats.peer(instances.get(2).url()).started();
    stats.peer(instances.get(2).url()).started();
    assertThat(policy.select(view, null, stats).url().instanceId()).isEqualTo("b-local");
    stats.peer(instances.get(1).url()).started();
    // Both at their bound: the remote wins.
    assertThat(policy.select(view, null, stats).url().instanceId()).isEqualTo("a-remote");
    // No remote left: a saturated local one still serves.
    ServiceView localOnly = ServiceView.of(Views.SERVICE, instances.subList(1, 3), 2);
    assertThat(policy.select(localOnly, null, stats).processId()).isEqualTo("me");
    assertThat(RoutingPolicy.lowestLatency("me"))
        .hasToString("lowestLatency(me, " + LowestLatencyPolicy.DEFAULT_MAX_LOCAL_IN_FLIGHT + ")");
  }

  private static void sample(PeerStatsRecorder stats, ServiceView view, int index, long millis) {
    stats.peer(view.instances().get(index).url()).sample(millis * MILLI);
  }
}

package io.skymesh.mesh.routing;

import static org.assertj.core.api.Assertions.assertThat;

import io.skymesh.mesh.Instance;
import io.skymesh.mesh.ServiceView;
import io.skymesh.mesh.internal.routing.LeastOutstandingPolicy;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/** The power of two choices prefers the less loaded peer, by what is in flight now. */
class LeastOutstandingPropertyTest {

  @Property(tries = 50)
  void ofTwoTheLessLoadedAlwaysWins(
      @ForAll @IntRange(min = 0, max = 100) int loadA,
      @ForAll @IntRange(min = 0, max = 100) int loadB) {
    ServiceView view = Views.of(2);
    PeerStatsRecorder stats = PeerStatsRecorder.create();
    load(stats, view.instances().get(0), loadA);
    load(stats, view.instances().get(1), loadB);
    RoutingPolicy policy = RoutingPolicy.leastOutstanding();
    for (int i = 0; i < 100; i++) {
      int chosen = stats.inFlight(policy.select(view, null, stats).url());
      assertThat(chosen).isEqualTo(Math.min(loadA, loadB));
    }
  }

  @Property(tries = 50)
  void theMostLoadedIsNeverPickedAndTheLeastLoadedGetsMost(
      @ForAll @IntRange(min = 3, max = 12) int n, @ForAll long seed) {
    ServiceView view = Views.of(n);
    PeerStatsRecorder stats = PeerStatsRecorder.create();
    for (int i = 0; i < n; i++) {
      load(stats, view.instances().get(i), i); // instance i carries i requests
    }
    Random random = new Random(seed);
    RoutingPolicy policy = new LeastOutstandingPolicy(() -> random);
    int[] counts = new int[n];
    int picks = 10_000;
    for (int i = 0; i < picks; i++) {
      counts[Views.indexOf(view, policy.select(view, null, stats))]++;
    }
    assertThat(counts[n - 1]).isZero();
    // Instance i wins when it is drawn and the other draw is heavier: 2 (n - 1 - i) / (n (n - 1)).
    for (int i = 0; i < n; i++) {
      double expected = picks * 2.0 * (n - 1 - i) / (n * (n - 1.0));
      assertThat((double) counts[i])
          .isCloseTo(expected, org.assertj.core.data.Offset.offset(6 * Math.sqrt(expected) + 1));
    }
  }

  @Property(tries = 20)
  void finishedRequestsStopCounting(@ForAll @IntRange(min = 1, max = 50) int requests) {
    ServiceView view = Views.of(2);
    PeerStatsRecorder stats = PeerStatsRecorder.create();
    Instance busy = view.instances().get(0);
    for (int i = 0; i < requests; i++) {
      stats.peer(busy.url()).started();
    }
    for (int i = 0; i < requests; i++) {
      stats.peer(busy.url()).finished();
    }
    // Picked many times before, but nothing in flight now: both are equal again (go-micro-service
    // counted picks and never forgot them).
    int[] counts = new int[2];
    RoutingPolicy policy = RoutingPolicy.leastOutstanding();
    for (int i = 0; i < 2000; i++) {
      counts[Views.indexOf(view, policy.select(view, null, stats))]++;
    }
    assertThat(counts[0]).isBetween(800, 1200);
  }

  private static void load(PeerStatsRecorder stats, Instance instance, int requests) {
    for (int i = 0; i < requests; i++) {
      stats.peer(instance.url()).started();
    }
  }
}

package io.skymesh.mesh.routing;

import static org.assertj.core.api.Assertions.assertThat;

import io.skymesh.core.ServiceName;
import io.skymesh.mesh.Instance;
import io.skymesh.mesh.ServiceView;
import io.skymesh.mesh.internal.routing.SmoothWeightedRoundRobinPolicy;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/** Round robin and smooth weighted round robin are exact and interleaved. */
class RoundRobinPropertyTest {

  @Property
  void roundRobinPicksEachInstanceOncePerCycle(
      @ForAll @IntRange(min = 1, max = 30) int n, @ForAll @IntRange(min = 1, max = 4) int cycles) {
    ServiceView view = Views.of(n);
    RoutingPolicy policy = RoutingPolicy.roundRobin();
    for (int cycle = 0; cycle < cycles; cycle++) {
      int[] counts = new int[n];
      for (int pick = 0; pick < n; pick++) {
        counts[Views.indexOf(view, policy.select(view, null, PeerStats.none()))]++;
      }
      assertThat(counts).containsOnly(1);
    }
  }

  @Property
  void roundRobinKeepsATurnPerServiceWhenShared(
      @ForAll @IntRange(min = 1, max = 10) int n,
      @ForAll @IntRange(min = 1, max = 10) int m,
      @ForAll @Size(min = 1, max = 200) List<Boolean> interleaving) {
    ServiceView first = Views.of(ServiceName.parse("game.zone1.first"), n);
    ServiceView second = Views.of(ServiceName.parse("game.zone1.second"), m);
    RoutingPolicy shared = RoutingPolicy.roundRobin();
    List<Integer> firstPicks = new ArrayList<>();
    List<Integer> secondPicks = new ArrayList<>();
    for (boolean toFirst : interleaving) {
      if (toFirst) {
        firstPicks.add(Views.indexOf(first, shared.select(first, null, PeerStats.none())));
      } else {
        secondPicks.add(Views.indexOf(second, shared.select(second, null, PeerStats.none())));
      }
    }
    assertConsecutiveModulo(firstPicks, n);
    assertConsecutiveModulo(secondPicks, m);
  }

  private static void assertConsecutiveModulo(List<Integer> picks, int n) {
    for (int i = 1; i < picks.size(); i++) {
      assertThat(picks.get(i)).as("picks %s", picks).isEqualTo((picks.get(i - 1) + 1) % n);
    }
  }

  @Example
  void smoothWeightedRoundRobinInterleavesFiveOneOne() {
    ServiceView view = Views.weighted(List.of(5, 1, 1));
    RoutingPolicy policy = RoutingPolicy.weightedRoundRobin();
    StringBuilder picks = new StringBuilder();
    for (int i = 0; i < 14; i++) {
      picks.append((char) ('a' + Views.indexOf(view, policy.select(view, null, PeerStats.none()))));
    }
    assertThat(picks).hasToString("aabacaa" + "aabacaa");
  }

  @Property
  void smoothWeightedRoundRobinPicksEachExactlyItsWeightPerCycle(
      @ForAll @Size(min = 1, max = 8) List<@IntRange(min = 1, max = 25) Integer> weights,
      @ForAll @IntRange(min = 0, max = 50) int warmUp) {
    ServiceView view = Views.weighted(weights);
    RoutingPolicy policy = RoutingPolicy.weightedRoundRobin();
    for (int i = 0; i < warmUp; i++) {
      policy.select(view, null, PeerStats.none());
    }
    int total = weights.stream().mapToInt(Integer::intValue).sum();
    int[] counts = new int[weights.size()];
    for (int pick = 0; pick < total; pick++) {
      counts[Views.indexOf(view, policy.select(view, null, PeerStats.none()))]++;
    }
    for (int i = 0; i < counts.length; i++) {
      assertThat(counts[i]).as("instance %s of weights %s", i, weights).isEqualTo(weights.get(i));
    }
  }

  @Property
  void smoothWeightedRoundRobinIsNginxSequence(
      @ForAll @Size(min = 1, max = 8) List<@IntRange(min = 0, max = 40) Integer> weights) {
    ServiceView view = Views.weighted(weights.stream().map(w -> Math.max(1, w)).toList());
    Map<String, String> none = Map.of();
    // Weight 0 comes from the attribute, since registration needs at least 1.
    List<Instance> instances = new ArrayList<>();
    for (int i = 0; i < weights.size(); i++) {
      Instance base = view.instances().get(i);
      instances.add(
          new Instance(
              base.url(),
              base.address(),
              base.weight(),
              weights.get(i) == 0 ? Map.of(RoutingPolicy.WEIGHT_ATTRIBUTE, "0") : none,
              base.processId(),
              1));
    }
    ServiceView drained = ServiceView.of(Views.SERVICE, instances, 2);
    int[] reference = nginx(weights.stream().mapToInt(Integer::intValue).toArray());
    RoutingPolicy policy = RoutingPolicy.weightedRoundRobin();
    for (int step = 0; step < 2 * reference.length; step++) {
      assertThat(Views.indexOf(drained, policy.select(drained, null, PeerStats.none())))
          .as("step %s of %s", step, weights)
          .isEqualTo(reference[step % reference.length]);
    }
  }

  @Property
  void smoothWeightedRoundRobinNeverRunsAheadOfItsShare(
      @ForAll @Size(min = 1, max = 8) List<@IntRange(min = 1, max = 40) Integer> weights) {
    int[] w = weights.stream().mapToInt(Integer::intValue).toArray();
    int[] cycle = SmoothWeightedRoundRobinPolicy.sequence(w);
    long total = 0;
    for (int weight : w) {
      total += weight;
    }
    int[] picked = new int[w.length];
    for (int step = 0; step < total; step++) {
      picked[cycle[(int) (step % cycle.length)]]++;
      for (int i = 0; i < w.length; i++) {
        // picked(t) < t * w / total + 1, in integers
        assertThat((long) picked[i] * total)
            .as("instance %s after %s picks of %s", i, step + 1, weights)
            .isLessThan((step + 1L) * w[i] + total);
      }
    }
  }

  @Property
  void smoothWeightedRoundRobinRunsAreAtMostHalfAWeight(
      @ForAll @Size(min = 2, max = 8) List<@IntRange(min = 1, max = 60) Integer> weights) {
    int[] w = weights.stream().mapToInt(Integer::intValue).toArray();
    int[] cycle = SmoothWeightedRoundRobinPolicy.sequence(w);
    int total = weights.stream().mapToInt(Integer::intValue).sum();
    // Within one cycle, go-micro-service's runs were a whole weight long.
    Map<Integer, Integer> longest = new HashMap<>();
    int run = 0;
    for (int step = 0; step < total; step++) {
      int index = cycle[step % cycle.length];
      run = step > 0 && cycle[(step - 1) % cycle.length] == index ? run + 1 : 1;
      longest.merge(index, run, Math::max);
    }
    longest.forEach(
        (index, max) ->
            assertThat(max)
                .as("instance %s of %s", index, weights)
                .isLessThanOrEqualTo((w[index] + 1) / 2));
  }

  @Example
  void smoothWeightedRoundRobinWithHugeWeightsStaysProportional() {
    int[] weights = {1_000_000, 500_000, 250_000, 1};
    int[] cycle = SmoothWeightedRoundRobinPolicy.sequence(weights);
    assertThat(cycle.length).isLessThanOrEqualTo(2 * SmoothWeightedRoundRobinPolicy.MAX_CYCLE);
    int[] counts = new int[weights.length];
    for (int index : cycle) {
      counts[index]++;
    }
    assertThat((double) counts[0] / counts[1])
        .isCloseTo(2.0, org.assertj.core.data.Offset.offset(0.01));
    assertThat((double) counts[1] / counts[2])
        .isCloseTo(2.0, org.assertj.core.data.Offset.offset(0.01));
    assertThat(counts[3]).isEqualTo(1);
  }

  /** nginx's ngx_http_upstream_get_peer, verbatim in spirit: the oracle. */
  private static int[] nginx(int[] weights) {
    int total = 0;
    boolean anyPositive = false;
    for (int weight : weights) {
      total += weight;
      anyPositive |= weight > 0;
    }
    int[] effective = weights.clone();
    if (!anyPositive) {
      java.util.Arrays.fill(effective, 1);
      total = weights.length;
    }
    int[] current = new int[weights.length];
    int[] sequence = new int[total];
    for (int step = 0; step < total; step++) {
      int best = -1;
      for (int i = 0; i < weights.length; i++) {
        current[i] += effective[i];
        if (best == -1 || current[i] > current[best]) {
          best = i;
        }
      }
      current[best] -= total;
      sequence[step] = best;
    }
    return sequence;
  }
}

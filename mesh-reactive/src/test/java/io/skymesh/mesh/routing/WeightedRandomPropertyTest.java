package io.skymesh.mesh.routing;

import static org.assertj.core.api.Assertions.assertThat;

import io.skymesh.mesh.Instance;
import io.skymesh.mesh.ServiceView;
import io.skymesh.mesh.internal.routing.WeightedRandomPolicy;
import io.skymesh.mesh.internal.routing.Weights;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/** Weighted random follows the weights, statistically, and survives degenerate weights. */
class WeightedRandomPropertyTest {

  private static final int PICKS = 20_000;

  @Property(tries = 50)
  void picksFollowTheWeights(
      @ForAll @Size(min = 1, max = 10) List<@IntRange(min = 1, max = 20) Integer> weights,
      @ForAll long seed) {
    ServiceView view = Views.weighted(weights);
    Random random = new Random(seed);
    RoutingPolicy policy = new WeightedRandomPolicy(Weights.DEFAULT, () -> random);
    int[] counts = new int[weights.size()];
    for (int i = 0; i < PICKS; i++) {
      counts[Views.indexOf(view, policy.select(view, null, PeerStats.none()))]++;
    }
    assertChiSquareFits(counts, weights.stream().mapToInt(Integer::intValue).toArray());
  }

  @Property(tries = 30)
  void zeroWeightAttributesDrainAndAllZeroIsUniform(
      @ForAll @Size(min = 1, max = 8) List<Boolean> drained, @ForAll long seed) {
    List<Instance> instances = new ArrayList<>();
    for (int i = 0; i < drained.size(); i++) {
      instances.add(
          Views.instance(
              Views.SERVICE,
              Views.id(i),
              3,
              drained.get(i) ? Map.of(RoutingPolicy.WEIGHT_ATTRIBUTE, "0") : Map.of(),
              "p"));
    }
    ServiceView view = ServiceView.of(Views.SERVICE, instances, 1);
    Random random = new Random(seed);
    RoutingPolicy policy = new WeightedRandomPolicy(Weights.DEFAULT, () -> random);
    int[] counts = new int[drained.size()];
    for (int i = 0; i < PICKS; i++) {
      counts[Views.indexOf(view, policy.select(view, null, PeerStats.none()))]++;
    }
    boolean allDrained = !drained.contains(false);
    int[] expected = new int[drained.size()];
    for (int i = 0; i < expected.length; i++) {
      expected[i] = allDrained || !drained.get(i) ? 1 : 0;
      if (expected[i] == 0) {
        assertThat(counts[i]).as("drained instance %s", i).isZero();
      }
    }
    assertChiSquareFits(counts, expected);
  }

  @Example
  void weightAttributeOverridesAndBadValuesAreIgnored() {
    List<Instance> instances =
        List.of(
            Views.instance(Views.SERVICE, "a", 1, Map.of("weight", "3"), "p"),
            Views.instance(Views.SERVICE, "b", 1, Map.of("weight", "-2"), "p"),
            Views.instance(Views.SERVICE, "c", 2, Map.of("weight", "heavy"), "p"),
            Views.instance(Views.SERVICE, "d", 4, Map.of(), "p"));
    ServiceView view = ServiceView.of(Views.SERVICE, instances, 1);
    RoutingPolicy policy = RoutingPolicy.weightedRoundRobin();
    int[] counts = new int[4];
    for (int i = 0; i < 10 * (3 + 1 + 2 + 4); i++) {
      counts[Views.indexOf(view, policy.select(view, null, PeerStats.none()))]++;
    }
    assertThat(counts).containsExactly(30, 10, 20, 40);
  }

  @Example
  void customWeigherIsUsed() {
    ServiceView view = Views.weighted(List.of(1, 1, 1));
    RoutingPolicy policy =
        RoutingPolicy.weightedRandom(i -> i.url().instanceId().equals("i001") ? 1 : 0);
    for (int i = 0; i < 1000; i++) {
      assertThat(policy.select(view, null, PeerStats.none()).url().instanceId()).isEqualTo("i001");
    }
  }

  /**
   * Pearson's chi-square against the expected proportions, with a bound six standard deviations
   * above its mean, so a correct policy fails about never and a wrong one (off by a few percent at
   * these counts) fails reliably.
   */
  static void assertChiSquareFits(int[] counts, int[] weights) {
    long total = 0;
    long weightSum = 0;
    int categories = 0;
    for (int i = 0; i < counts.length; i++) {
      total += counts[i];
      weightSum += weights[i];
      categories += weights[i] > 0 ? 1 : 0;
    }
    double chiSquare = 0;
    for (int i = 0; i < counts.length; i++) {
      if (weights[i] > 0) {
        double expected = (double) total * weights[i] / weightSum;
        chiSquare += (counts[i] - expected) * (counts[i] - expected) / expected;
      }
    }
    int degrees = Math.max(1, categories - 1);
    assertThat(chiSquare)
        .as(
            "chi-square of %s against weights %s",
            java.util.Arrays.toString(counts), java.util.Arrays.toString(weights))
        .isLessThan(degrees + 6 * Math.sqrt(2.0 * degrees) + 10);
  }
}

package io.skymesh.mesh.internal.routing;

import io.skymesh.mesh.Instance;
import io.skymesh.mesh.ServiceView;
import io.skymesh.mesh.routing.PeerStats;
import io.skymesh.mesh.routing.RoutingPolicy;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Supplier;
import java.util.function.ToIntFunction;
import java.util.random.RandomGenerator;

/**
 * Weighted random by binary search over cumulative weights, built once per view (go-micro-service
 * repeated each node {@code weight} times in a list and crashed when every weight was 0).
 */
public final class WeightedRandomPolicy implements RoutingPolicy {

  private final ToIntFunction<Instance> weigher;
  private final Supplier<? extends RandomGenerator> random;
  private final PerService<ViewCache<Cumulative>> tables;

  /**
   * A policy over {@code weigher}'s weights, drawing from {@link ThreadLocalRandom}.
   *
   * @param weigher each instance's weight
   */
  public WeightedRandomPolicy(ToIntFunction<Instance> weigher) {
    this(weigher, ThreadLocalRandom::current);
  }

  /**
   * A policy over {@code weigher}'s weights drawing from {@code random}, which must be thread-safe
   * if the policy is shared.
   *
   * @param weigher each instance's weight
   * @param random the generator for each pick
   */
  public WeightedRandomPolicy(
      ToIntFunction<Instance> weigher, Supplier<? extends RandomGenerator> random) {
    this.weigher = weigher;
    this.random = random;
    this.tables = new PerService<>(service -> new ViewCache<>(this::build));
  }

  @Override
  public Instance select(ServiceView view, Object key, PeerStats stats) {
    Policies.requireNonEmpty(view);
    long[] sums = tables.of(view.serviceName()).of(view).sums;
    long target = random.get().nextLong(sums[sums.length - 1]);
    // The first index whose cumulative weight exceeds the target; weight-0 entries never are.
    int low = 0;
    int high = sums.length - 1;
    while (low < high) {
      int mid = (low + high) >>> 1;
      if (sums[mid] > target) {
        high = mid;
      } else {
        low = mid + 1;
      }
    }
    return view.instances().get(low);
  }

  private Cumulative build(ServiceView view) {
    int[] weights = Weights.of(view.instances(), weigher);
    long[] sums = new long[weights.length];
    long sum = 0;
    for (int i = 0; i < weights.length; i++) {
      sum += weights[i];
      sums[i] = sum;
    }
    return new Cumulative(view, sums);
  }

  @Override
  public String toString() {
    return "weightedRandom()";
  }

  /** Cumulative weights of one view. */
  private record Cumulative(ServiceView view, long[] sums) implements ViewCache.Derived {}
}

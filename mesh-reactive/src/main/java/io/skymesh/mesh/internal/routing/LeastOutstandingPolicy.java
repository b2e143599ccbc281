package io.skymesh.mesh.internal.routing;

import io.skymesh.mesh.Instance;
import io.skymesh.mesh.ServiceView;
import io.skymesh.mesh.routing.PeerStats;
import io.skymesh.mesh.routing.RoutingPolicy;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Supplier;
import java.util.random.RandomGenerator;

/** The power of two choices over in-flight counts. */
public final class LeastOutstandingPolicy implements RoutingPolicy {

  private final Supplier<? extends RandomGenerator> random;

  /** A policy drawing from {@link ThreadLocalRandom}. */
  public LeastOutstandingPolicy() {
    this(ThreadLocalRandom::current);
  }

  /**
   * A policy drawing from {@code random}, which must be thread-safe if the policy is shared.
   *
   * @param random the generator for each pick
   */
  public LeastOutstandingPolicy(Supplier<? extends RandomGenerator> random) {
    this.random = random;
  }

  @Override
  public Instance select(ServiceView view, Object key, PeerStats stats) {
    int n = Policies.requireNonEmpty(view);
    List<Instance> instances = view.instances();
    if (n == 1) {
      return instances.get(0);
    }
    RandomGenerator generator = random.get();
    int first = generator.nextInt(n);
    int second = generator.nextInt(n - 1);
    if (second >= first) {
      second++;
    }
    Instance a = instances.get(first);
    Instance b = instances.get(second);
    return stats.inFlight(b.url()) < stats.inFlight(a.url()) ? b : a;
  }

  @Override
  public String toString() {
    return "leastOutstanding()";
  }
}

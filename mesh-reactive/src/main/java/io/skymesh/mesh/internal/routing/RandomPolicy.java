package io.skymesh.mesh.internal.routing;

import io.skymesh.mesh.Instance;
import io.skymesh.mesh.ServiceView;
import io.skymesh.mesh.routing.PeerStats;
import io.skymesh.mesh.routing.RoutingPolicy;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Supplier;
import java.util.random.RandomGenerator;

/** Uniformly random. */
public final class RandomPolicy implements RoutingPolicy {

  private final Supplier<? extends RandomGenerator> random;

  /** A policy drawing from {@link ThreadLocalRandom}. */
  public RandomPolicy() {
    this(ThreadLocalRandom::current);
  }

  /**
   * A policy drawing from {@code random}, which must be thread-safe if the policy is shared.
   *
   * @param random the generator for each pick
   */
  public RandomPolicy(Supplier<? extends RandomGenerator> random) {
    this.random = random;
  }

  @Override
  public Instance select(ServiceView view, Object key, PeerStats stats) {
    int n = Policies.requireNonEmpty(view);
    return view.instances().get(random.get().nextInt(n));
  }

  @Override
  public String toString() {
    return "random()";
  }
}

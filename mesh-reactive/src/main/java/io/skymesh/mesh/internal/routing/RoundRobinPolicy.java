package io.skymesh.mesh.internal.routing;

import io.skymesh.mesh.Instance;
import io.skymesh.mesh.ServiceView;
import io.skymesh.mesh.routing.PeerStats;
import io.skymesh.mesh.routing.RoutingPolicy;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/** Round robin with a turn per service, starting at a random offset. */
public final class RoundRobinPolicy implements RoutingPolicy {

  private final PerService<AtomicLong> turns;

  /** A policy whose turns start at random offsets. */
  public RoundRobinPolicy() {
    this(true);
  }

  /**
   * A policy whose turns start at 0 when {@code randomStart} is false (for tests).
   *
   * @param randomStart whether each service's turn starts at a random offset
   */
  public RoundRobinPolicy(boolean randomStart) {
    this.turns =
        new PerService<>(
            service ->
                new AtomicLong(randomStart ? ThreadLocalRandom.current().nextInt(1 << 16) : 0));
  }

  @Override
  public Instance select(ServiceView view, Object key, PeerStats stats) {
    int n = Policies.requireNonEmpty(view);
    long turn = turns.of(view.serviceName()).getAndIncrement();
    return view.instances().get((int) Long.remainderUnsigned(turn, n));
  }

  @Override
  public String toString() {
    return "roundRobin()";
  }
}

package io.skymesh.mesh.internal.routing;

import io.skymesh.core.ServiceName;
import io.skymesh.mesh.Instance;
import io.skymesh.mesh.ServiceView;
import io.skymesh.mesh.routing.PeerStats;
import io.skymesh.mesh.routing.RoutingPolicy;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.ToIntFunction;

/**
 * Smooth weighted round robin, nginx's algorithm. nginx updates every peer's current weight under a
 * lock on each pick; here one whole cycle of the sequence is computed per view (the algorithm is
 * periodic: after {@code sum(weights)} picks every current weight is back to 0) and each pick reads
 * the table at the service's next turn, which is lock-free and allocation-free.
 *
 * <p>Weights are first divided by their greatest common divisor, which leaves the sequence
 * unchanged. A cycle longer than {@link #MAX_CYCLE}, or one whose table would cost more than {@link
 * #MAX_BUILD_STEPS} steps to build, has its weights scaled down proportionally (each positive
 * weight stays at least 1), so very large weights are approximated.
 */
public final class SmoothWeightedRoundRobinPolicy implements RoutingPolicy {

  /** The longest cycle kept exactly. */
  public static final int MAX_CYCLE = 1 << 16;

  /** The most work ({@code instances × cycle}) a table may take to build. */
  static final long MAX_BUILD_STEPS = 1L << 24;

  private final ToIntFunction<Instance> weigher;
  private final PerService<State> states;

  /**
   * A policy over {@code weigher}'s weights.
   *
   * @param weigher each instance's weight
   */
  public SmoothWeightedRoundRobinPolicy(ToIntFunction<Instance> weigher) {
    this.weigher = weigher;
    this.states = new PerService<>(this::newState);
  }

  private State newState(ServiceName service) {
    return new State(new ViewCache<>(this::build));
  }

  @Override
  public Instance select(ServiceView view, Object key, PeerStats stats) {
    Policies.requireNonEmpty(view);
    State state = states.of(view.serviceName());
    Table table = state.tables.of(view);
    int[] order = table.order;
    long turn = state.turn.getAndIncrement();
    return table.instances.get(order[(int) Long.remainderUnsigned(turn, order.length)]);
  }

  private Table build(ServiceView view) {
    return new Table(view, view.instances(), sequence(Weights.of(view.instances(), weigher)));
  }

  /**
   * One cycle of nginx's smooth weighted round robin over {@code weights} (at least one positive):
   * the index picked at each step.
   *
   * @param weights each instance's weight, at least 0
   * @return the cycle
   */
  public static int[] sequence(int[] weights) {
    int n = weights.length;
    long gcd = 0;
    long total = 0;
    int positive = 0;
    boolean equal = true;
    int first = -1;
    for (int weight : weights) {
      if (weight > 0) {
        gcd = gcd(gcd, weight);
        total += weight;
        positive++;
        if (first < 0) {
          first = weight;
        } else if (weight != first) {
          equal = false;
        }
      }
    }
    if (equal) {
      // Equal weights interleave as plain round robin over the positive ones.
      int[] order = new int[positive];
      for (int i = 0, next = 0; i < n; i++) {
        if (weights[i] > 0) {
          order[next++] = i;
        }
      }
      return order;
    }
    long[] reduced = new long[n];
    long cycle = 0;
    for (int i = 0; i < n; i++) {
      reduced[i] = weights[i] / gcd;
      cycle += reduced[i];
    }
    long limit = Math.max(positive, Math.min(MAX_CYCLE, MAX_BUILD_STEPS / n));
    if (cycle > limit) {
      cycle = 0;
      for (int i = 0; i < n; i++) {
        if (reduced[i] > 0) {
          reduced[i] = Math.max(1, reduced[i] * limit / (total / gcd));
          cycle += reduced[i];
        }
      }
    }
    int[] order = new int[(int) cycle];
    long[] current = new long[n];
    for (int step = 0; step < order.length; step++) {
      int best = -1;
      for (int i = 0; i < n; i++) {
        current[i] += reduced[i];
        if (best < 0 || current[i] > current[best]) {
          best = i;
        }
      }
      current[best] -= cycle;
      order[step] = best;
    }
    return order;
  }

  private static long gcd(long a, long b) {
    while (b != 0) {
      long r = a % b;
      a = b;
      b = r;
    }
    return a;
  }

  @Override
  public String toString() {
    return "weightedRoundRobin()";
  }

  /** A service's turn and the table of its last view. */
  private record State(ViewCache<Table> tables, AtomicLong turn) {
    State(ViewCache<Table> tables) {
      this(tables, new AtomicLong());
    }
  }

  /** One cycle of picks for one view. */
  private record Table(ServiceView view, List<Instance> instances, int[] order)
      implements ViewCache.Derived {}
}

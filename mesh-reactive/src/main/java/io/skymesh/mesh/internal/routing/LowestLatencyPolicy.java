package io.skymesh.mesh.internal.routing;

import io.skymesh.mesh.Instance;
import io.skymesh.mesh.ServiceView;
import io.skymesh.mesh.routing.PeerStats;
import io.skymesh.mesh.routing.RoutingPolicy;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Supplier;
import java.util.random.RandomGenerator;

/**
 * Lower latency by the power of two choices, local first, with a neutral estimate for instances
 * never measured.
 *
 * <p>A pick draws two distinct instances at random and takes the one with the lower latency
 * average; equal averages go to the one with fewer requests in flight, then to the first drawn.
 * Constant-time whatever the view's size, where a scan for the minimum cost O(n) per pick; it also
 * keeps the fastest instance from drawing all the traffic (each instance wins only the pairs it is
 * drawn in). Among {@code n} instances of distinct latencies, the {@code r}-th fastest is picked
 * with probability {@code 2 (n - r) / (n (n - 1))}: the slowest never, the faster half about three
 * picks in four; between two instances the faster always wins.
 *
 * <p>Local instances are found once per view (their indices, cached like the other policies'
 * tables), so local first costs a look at the local instances only. Skymesh gave an instance
 * without samples an RTT of 0, so every new instance drew all the traffic; here it counts as the
 * mean of the measured ones.
 */
public final class LowestLatencyPolicy implements RoutingPolicy {

  /** The in-flight count at which a local instance stops winning, by default. */
  public static final int DEFAULT_MAX_LOCAL_IN_FLIGHT = 256;

  private final String localProcessId;
  private final int maxLocalInFlight;
  private final Supplier<? extends RandomGenerator> random;
  private final PerService<ViewCache<Split>> splits;

  /**
   * A policy preferring instances of {@code localProcessId} (none if {@code null}).
   *
   * @param localProcessId this process's id, or {@code null}
   * @param maxLocalInFlight the in-flight count at which a local instance stops winning
   */
  public LowestLatencyPolicy(String localProcessId, int maxLocalInFlight) {
    this(localProcessId, maxLocalInFlight, ThreadLocalRandom::current);
  }

  /**
   * A policy preferring instances of {@code localProcessId}, drawing its candidates from {@code
   * random}.
   *
   * @param localProcessId this process's id, or {@code null}
   * @param maxLocalInFlight the in-flight count at which a local instance stops winning
   * @param random the generator for each pick, thread-safe if the policy is shared
   */
  public LowestLatencyPolicy(
      String localProcessId, int maxLocalInFlight, Supplier<? extends RandomGenerator> random) {
    this.localProcessId = localProcessId;
    this.maxLocalInFlight = maxLocalInFlight;
    this.random = random;
    this.splits =
        localProcessId == null ? null : new PerService<>(service -> new ViewCache<>(this::split));
  }

  @Override
  public Instance select(ServiceView view, Object key, PeerStats stats) {
    int n = Policies.requireNonEmpty(view);
    List<Instance> instances = view.instances();
    if (splits == null) {
      return twoChoices(view, instances, null, n, stats);
    }
    Split split = splits.of(view.serviceName()).of(view);
    int[] local = split.local;
    Instance best = null;
    int bestLoad = Integer.MAX_VALUE;
    for (int index : local) {
      Instance instance = instances.get(index);
      int load = stats.inFlight(instance.url());
      if (load < maxLocalInFlight && load < bestLoad) {
        best = instance;
        bestLoad = load;
      }
    }
    if (best != null) {
      return best;
    }
    // Saturated local instances compete only when there is no remote one.
    int[] remote = split.remote;
    return remote.length == 0
        ? twoChoices(view, instances, null, n, stats)
        : twoChoices(view, instances, remote, remote.length, stats);
  }

  /**
   * The better of two distinct instances drawn from the {@code count} candidates: {@code
   * candidates}' indices, or the whole view when {@code candidates} is {@code null}.
   */
  private Instance twoChoices(
      ServiceView view, List<Instance> instances, int[] candidates, int count, PeerStats stats) {
    if (count == 1) {
      return instances.get(candidates == null ? 0 : candidates[0]);
    }
    RandomGenerator generator = random.get();
    int first = generator.nextInt(count);
    int second = generator.nextInt(count - 1);
    if (second >= first) {
      second++;
    }
    Instance a = instances.get(candidates == null ? first : candidates[first]);
    Instance b = instances.get(candidates == null ? second : candidates[second]);
    double latencyA = stats.latencyNanos(a.url());
    double latencyB = stats.latencyNanos(b.url());
    if (Double.isNaN(latencyA) || Double.isNaN(latencyB)) {
      // Instances never measured get the mean of the measured ones, not zero.
      double mean = stats.meanLatencyNanos(view);
      double neutral = Double.isNaN(mean) ? 0 : mean;
      latencyA = Double.isNaN(latencyA) ? neutral : latencyA;
      latencyB = Double.isNaN(latencyB) ? neutral : latencyB;
    }
    if (latencyA != latencyB) {
      return latencyB < latencyA ? b : a;
    }
    return stats.inFlight(b.url()) < stats.inFlight(a.url()) ? b : a;
  }

  private Split split(ServiceView view) {
    List<Instance> instances = view.instances();
    int n = instances.size();
    int locals = 0;
    for (int i = 0; i < n; i++) {
      if (localProcessId.equals(instances.get(i).processId())) {
        locals++;
      }
    }
    int[] local = new int[locals];
    int[] remote = new int[n - locals];
    for (int i = 0, l = 0, r = 0; i < n; i++) {
      if (localProcessId.equals(instances.get(i).processId())) {
        local[l++] = i;
      } else {
        remote[r++] = i;
      }
    }
    return new Split(view, local, remote);
  }

  @Override
  public String toString() {
    return localProcessId == null
        ? "lowestLatency()"
        : "lowestLatency(" + localProcessId + ", " + maxLocalInFlight + ")";
  }

  /** The indices of one view's local and remote instances. */
  private record Split(ServiceView view, int[] local, int[] remote) implements ViewCache.Derived {}
}

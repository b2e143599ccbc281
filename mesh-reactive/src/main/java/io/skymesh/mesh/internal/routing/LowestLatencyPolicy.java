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
 * Lowest latency average, local first, with a neutral estimate for instances never measured.
 * Skymesh gave an instance without samples an RTT of 0, so every new instance drew all the traffic.
 */
public final class LowestLatencyPolicy implements RoutingPolicy {

  /** The in-flight count at which a local instance stops winning, by default. */
  public static final int DEFAULT_MAX_LOCAL_IN_FLIGHT = 256;

  private final String localProcessId;
  private final int maxLocalInFlight;
  private final Supplier<? extends RandomGenerator> random;

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
   * A policy preferring instances of {@code localProcessId}, breaking ties with {@code random}.
   *
   * @param localProcessId this process's id, or {@code null}
   * @param maxLocalInFlight the in-flight count at which a local instance stops winning
   * @param random the generator for ties, thread-safe if the policy is shared
   */
  public LowestLatencyPolicy(
      String localProcessId, int maxLocalInFlight, Supplier<? extends RandomGenerator> random) {
    this.localProcessId = localProcessId;
    this.maxLocalInFlight = maxLocalInFlight;
    this.random = random;
  }

  @Override
  public Instance select(ServiceView view, Object key, PeerStats stats) {
    int n = Policies.requireNonEmpty(view);
    List<Instance> instances = view.instances();
    boolean anyRemote = localProcessId == null;
    if (localProcessId != null) {
      Instance local = null;
      int localLoad = Integer.MAX_VALUE;
      for (int i = 0; i < n; i++) {
        Instance instance = instances.get(i);
        if (localProcessId.equals(instance.processId())) {
          int load = stats.inFlight(instance.url());
          if (load < maxLocalInFlight && load < localLoad) {
            local = instance;
            localLoad = load;
          }
        } else {
          anyRemote = true;
        }
      }
      if (local != null) {
        return local;
      }
    }
    // Saturated local instances compete only when there is no remote one.
    boolean skipLocal = localProcessId != null && anyRemote;
    // Instances never measured get the mean of the measured ones, not zero.
    double mean = stats.meanLatencyNanos(view);
    double neutral = Double.isNaN(mean) ? 0 : mean;
    Instance best = null;
    double bestLatency = 0;
    int bestLoad = 0;
    int ties = 0;
    RandomGenerator generator = null;
    for (int i = 0; i < n; i++) {
      Instance instance = instances.get(i);
      if (skipLocal && localProcessId.equals(instance.processId())) {
        continue;
      }
      double latency = stats.latencyNanos(instance.url());
      if (Double.isNaN(latency)) {
        latency = neutral;
      }
      int load = stats.inFlight(instance.url());
      if (best == null || latency < bestLatency || (latency == bestLatency && load < bestLoad)) {
        best = instance;
        bestLatency = latency;
        bestLoad = load;
        ties = 1;
      } else if (latency == bestLatency && load == bestLoad) {
        // Reservoir sampling: each of the tied is kept with equal probability.
        if (generator == null) {
          generator = random.get();
        }
        if (generator.nextInt(++ties) == 0) {
          best = instance;
        }
      }
    }
    return best;
  }

  @Override
  public String toString() {
    return localProcessId == null
        ? "lowestLatency()"
        : "lowestLatency(" + localProcessId + ", " + maxLocalInFlight + ")";
  }
}

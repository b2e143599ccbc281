package io.skymesh.mesh.routing;

import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.Instance;
import io.skymesh.mesh.ServiceView;
import io.skymesh.mesh.internal.routing.NoPeerStats;

/**
 * What routing policies know about each peer instance: how many requests are in flight to it and
 * how long its round trips take. Read-only; {@link PeerStatsRecorder} is the implementation callers
 * update.
 *
 * <p>Threading: implementations are read concurrently from any thread and must neither block nor
 * allocate on these reads.
 */
public interface PeerStats {

  /**
   * How many requests to {@code url} have started and not yet finished: counted in flight, not
   * picked.
   *
   * @param url an instance
   * @return the in-flight count, 0 when nothing is known
   */
  int inFlight(ServiceUrl url);

  /**
   * The exponentially weighted moving average of {@code url}'s measured round trips, in
   * nanoseconds, unanswered pings counting as slow samples.
   *
   * @param url an instance
   * @return the average, or {@link Double#NaN} when no round trip has been measured yet
   */
  double latencyNanos(ServiceUrl url);

  /**
   * The sum of {@link #inFlight} over {@code view}'s instances. This default adds them up, one
   * lookup per instance; {@link PeerStatsRecorder} keeps a running total instead, so policies that
   * need the whole service's load (consistent hash with bounded loads) stay constant-time.
   *
   * @param view the instances
   * @return the total in flight, at least 0
   */
  default long totalInFlight(ServiceView view) {
    long total = 0;
    for (Instance instance : view.instances()) {
      total += Math.max(0, inFlight(instance.url()));
    }
    return total;
  }

  /**
   * The mean of the measured {@link #latencyNanos} of {@code view}'s instances: the neutral
   * estimate the lowest-latency policy gives instances never measured. This default scans the view;
   * {@link PeerStatsRecorder} keeps running sums instead.
   *
   * @param view the instances
   * @return the mean, or {@link Double#NaN} when none is measured
   */
  default double meanLatencyNanos(ServiceView view) {
    double sum = 0;
    int measured = 0;
    for (Instance instance : view.instances()) {
      double latency = latencyNanos(instance.url());
      if (!Double.isNaN(latency)) {
        sum += latency;
        measured++;
      }
    }
    return measured == 0 ? Double.NaN : sum / measured;
  }

  /**
   * Statistics that know nothing: no request in flight, no latency measured.
   *
   * @return the empty statistics
   */
  static PeerStats none() {
    return NoPeerStats.INSTANCE;
  }
}

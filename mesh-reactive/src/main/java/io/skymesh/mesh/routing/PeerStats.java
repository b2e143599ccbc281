package io.skymesh.mesh.routing;

import io.skymesh.core.ServiceUrl;
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
   * Statistics that know nothing: no request in flight, no latency measured.
   *
   * @return the empty statistics
   */
  static PeerStats none() {
    return NoPeerStats.INSTANCE;
  }
}

package io.skymesh.mesh.internal.routing;

import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.routing.PeerStats;

/** The statistics of {@code PeerStats.none()}: nothing in flight, nothing measured. */
public enum NoPeerStats implements PeerStats {
  /** The one instance. */
  INSTANCE;

  @Override
  public int inFlight(ServiceUrl url) {
    return 0;
  }

  @Override
  public double latencyNanos(ServiceUrl url) {
    return Double.NaN;
  }

  @Override
  public String toString() {
    return "PeerStats.none()";
  }
}

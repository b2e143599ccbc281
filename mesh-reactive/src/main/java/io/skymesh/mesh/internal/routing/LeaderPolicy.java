package io.skymesh.mesh.internal.routing;

import io.skymesh.mesh.Instance;
import io.skymesh.mesh.ServiceView;
import io.skymesh.mesh.routing.PeerStats;
import io.skymesh.mesh.routing.RoutingPolicy;

/** The hook for leader routing: fails clearly until elections exist. */
public enum LeaderPolicy implements RoutingPolicy {
  /** The one instance. */
  INSTANCE;

  @Override
  public Instance select(ServiceView view, Object key, PeerStats stats) {
    throw new UnsupportedOperationException(
        "leader() routing of "
            + view.serviceName()
            + " needs elections, which the mesh does not have yet");
  }

  @Override
  public String toString() {
    return "leader()";
  }
}

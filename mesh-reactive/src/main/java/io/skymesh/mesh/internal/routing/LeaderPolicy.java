package io.skymesh.mesh.internal.routing;

import io.skymesh.mesh.Instance;
import io.skymesh.mesh.ServiceView;
import io.skymesh.mesh.routing.PeerStats;
import io.skymesh.mesh.routing.RoutingPolicy;

/**
 * Leader routing. The leader is not part of a view, so a {@code NameRouter} resolves this policy
 * itself from its leader stream; called directly on a view it fails clearly.
 */
public enum LeaderPolicy implements RoutingPolicy {
  /** The one instance. */
  INSTANCE;

  @Override
  public Instance select(ServiceView view, Object key, PeerStats stats) {
    throw new UnsupportedOperationException(
        "leader() routing of "
            + view.serviceName()
            + " needs the service's router (NameRouter.select or route), which knows the leader;"
            + " a view alone does not");
  }

  @Override
  public String toString() {
    return "leader()";
  }
}

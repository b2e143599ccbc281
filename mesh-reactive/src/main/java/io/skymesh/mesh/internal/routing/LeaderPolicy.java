package io.skymesh.mesh.internal.routing;

import io.skymesh.core.exceptions.NoAvailableInstanceException;
import io.skymesh.mesh.Instance;
import io.skymesh.mesh.Leader;
import io.skymesh.mesh.ServiceView;
import io.skymesh.mesh.routing.PeerStats;
import io.skymesh.mesh.routing.RoutingPolicy;
import java.util.Optional;

/** Leader routing: the view's leader, when it leads and is live in the view. */
public enum LeaderPolicy implements RoutingPolicy {
  /** The one instance. */
  INSTANCE;

  @Override
  public Instance select(ServiceView view, Object key, PeerStats stats) {
    Policies.requireNonEmpty(view);
    Optional<Instance> leader = view.leaderInstance();
    if (leader.isEmpty()) {
      throw noLeader(view);
    }
    return leader.get();
  }

  private static NoAvailableInstanceException noLeader(ServiceView view) {
    Leader leader = view.leader();
    return new NoAvailableInstanceException(
        "no leader of "
            + view.serviceName()
            + leader.url().map(url -> " in the view (" + url + ")").orElse(""));
  }

  @Override
  public String toString() {
    return "leader()";
  }
}

package io.skymesh.mesh.internal.routing;

import io.skymesh.mesh.Instance;
import io.skymesh.mesh.ServiceView;
import io.skymesh.mesh.routing.PeerStats;
import io.skymesh.mesh.routing.RoutingPolicy;

/** The key's mixed 64-bit hash mapped onto the sorted view. */
public final class KeyHashPolicy implements RoutingPolicy {

  /** The policy. */
  public KeyHashPolicy() {}

  @Override
  public Instance select(ServiceView view, Object key, PeerStats stats) {
    int n = Policies.requireNonEmpty(view);
    return view.instances().get(Keys.index(Keys.hash(Policies.requireKey(key, this)), n));
  }

  @Override
  public String toString() {
    return "hash()";
  }
}

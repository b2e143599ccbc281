package io.skymesh.mesh.internal.routing;

import io.skymesh.mesh.Instance;
import io.skymesh.mesh.ServiceView;
import io.skymesh.mesh.routing.PeerStats;
import io.skymesh.mesh.routing.RoutingPolicy;

/** Skymesh's ModHash: {@code key mod n} over the sorted view, the key as an unsigned long. */
public final class ModHashPolicy implements RoutingPolicy {

  /** The policy. */
  public ModHashPolicy() {}

  @Override
  public Instance select(ServiceView view, Object key, PeerStats stats) {
    int n = Policies.requireNonEmpty(view);
    Policies.requireKey(key, this);
    long value = Keys.isIntegral(key) ? ((Number) key).longValue() : Keys.hash(key);
    return view.instances().get((int) Long.remainderUnsigned(value, n));
  }

  @Override
  public String toString() {
    return "modHash()";
  }
}

package io.skymesh.mesh.internal.rpc;

import io.skymesh.core.ServiceUrl;

/**
 * The check a leader-routed request passes before its handler runs: the destination must lead its
 * service with exactly the term the caller routed by, as the receiving mesh knows it.
 */
@FunctionalInterface
public interface Fencing {

  /**
   * Why a request for {@code destination} routed to the leader of term {@code term} must be
   * refused.
   *
   * @param destination the called instance
   * @param term the leader term the caller routed by, greater than 0
   * @return the reason, or {@code null} if the destination leads with that term
   */
  String problem(ServiceUrl destination, long term);
}

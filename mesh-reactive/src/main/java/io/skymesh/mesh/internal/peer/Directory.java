package io.skymesh.mesh.internal.peer;

import io.skymesh.core.ServiceName;
import io.skymesh.mesh.NameRouter;

/** Where the data plane learns who is alive, where, and who leads: the mesh's routers. */
public interface Directory {

  /**
   * The router of a service, made on first use.
   *
   * @param serviceName the service
   * @return its router
   */
  NameRouter router(ServiceName serviceName);

  /**
   * Whether an instance of a watched service lives at {@code address}: an index look-up per router,
   * never a walk over their instances.
   *
   * @param address a peer's "host:port"
   * @return true if some router's current view has an instance there
   */
  boolean hosts(String address);
}

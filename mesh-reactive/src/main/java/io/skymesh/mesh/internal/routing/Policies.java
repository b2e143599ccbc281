package io.skymesh.mesh.internal.routing;

import io.skymesh.core.exceptions.NoAvailableInstanceException;
import io.skymesh.mesh.ServiceView;
import java.util.Objects;

/** Checks shared by the policies. */
final class Policies {

  private Policies() {}

  /** The view's size, or a typed failure naming the service when it is empty. */
  static int requireNonEmpty(ServiceView view) {
    int n = Objects.requireNonNull(view, "view").size();
    if (n == 0) {
      throw new NoAvailableInstanceException("no live instance of " + view.serviceName());
    }
    return n;
  }

  /** {@code key}, or a clear failure when a policy that needs one got none. */
  static Object requireKey(Object key, Object policy) {
    if (key == null) {
      throw new IllegalArgumentException(
          "key: null (expected: a routing key for "
              + policy
              + "; use select(policy, key) or route(policy, keyFunction))");
    }
    return key;
  }
}

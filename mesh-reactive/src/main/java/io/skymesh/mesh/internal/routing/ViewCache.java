package io.skymesh.mesh.internal.routing;

import io.skymesh.mesh.ServiceView;
import java.util.function.Function;

/**
 * The structure a policy derives from the last view it saw (a table, a ring), rebuilt when a
 * different view object arrives. Lock-free: racing builders each build, the last one published
 * wins, and every reader gets a structure consistent with the view it passed.
 *
 * @param <D> the derived structure
 */
final class ViewCache<D extends ViewCache.Derived> {

  /** A structure derived from one view, which it remembers. */
  interface Derived {
    /** The view it was built from. */
    ServiceView view();
  }

  private final Function<ServiceView, D> build;
  private volatile D last;

  ViewCache(Function<ServiceView, D> build) {
    this.build = build;
  }

  D of(ServiceView view) {
    D derived = last;
    if (derived == null || derived.view() != view) {
      derived = build.apply(view);
      last = derived;
    }
    return derived;
  }
}

package io.skymesh.mesh.routing;

import io.skymesh.mesh.Instance;
import java.util.Objects;

/**
 * One element of a stream of work paired with the instance a routing policy chose for it, as {@code
 * NameRouter.route(...)} emits it.
 *
 * @param value the element
 * @param instance the chosen instance
 * @param <T> the element's type
 */
public record Routed<T>(T value, Instance instance) {

  /** Creates a pair. */
  public Routed {
    Objects.requireNonNull(value, "value");
    Objects.requireNonNull(instance, "instance");
  }
}

package io.skymesh.mesh;

import io.skymesh.mesh.rpc.Methods;
import java.util.Map;
import java.util.Objects;

/**
 * How an instance registers: its weight, its initial attributes and the request methods it answers.
 *
 * <pre>{@code
 * ServiceOptions.defaults().withWeight(3).withAttributes(Map.of("zone", "a")).withMethods(methods)
 * }</pre>
 *
 * @param weight the relative weight for weighted routing, at least 1
 * @param attributes the initial attributes
 * @param methods the request methods it answers; {@link Methods#none()} answers every request with
 *     {@code UNIMPLEMENTED}
 */
public record ServiceOptions(int weight, Map<String, String> attributes, Methods methods) {

  private static final ServiceOptions DEFAULTS = new ServiceOptions(1, Map.of(), Methods.none());

  /** Creates options; {@code attributes} is copied. */
  public ServiceOptions {
    if (weight < 1) {
      throw new IllegalArgumentException("weight: " + weight + " (expected: >= 1)");
    }
    attributes = Map.copyOf(attributes);
    Objects.requireNonNull(methods, "methods");
  }

  /**
   * Options without request methods.
   *
   * @param weight the relative weight, at least 1
   * @param attributes the initial attributes, copied
   */
  public ServiceOptions(int weight, Map<String, String> attributes) {
    this(weight, attributes, Methods.none());
  }

  /** Weight 1, no attributes, no methods. */
  public static ServiceOptions defaults() {
    return DEFAULTS;
  }

  /** A copy with this weight. */
  public ServiceOptions withWeight(int weight) {
    return new ServiceOptions(weight, attributes, methods);
  }

  /** A copy with these attributes. */
  public ServiceOptions withAttributes(Map<String, String> attributes) {
    return new ServiceOptions(weight, attributes, methods);
  }

  /** A copy with these request methods. */
  public ServiceOptions withMethods(Methods methods) {
    return new ServiceOptions(weight, attributes, methods);
  }
}

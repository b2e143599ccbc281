package io.skymesh.mesh;

import java.util.Map;

/**
 * How an instance registers: its weight and its initial attributes.
 *
 * <pre>{@code
 * ServiceOptions.defaults().withWeight(3).withAttributes(Map.of("zone", "a"))
 * }</pre>
 *
 * @param weight the relative weight for weighted routing, at least 1
 * @param attributes the initial attributes
 */
public record ServiceOptions(int weight, Map<String, String> attributes) {

  private static final ServiceOptions DEFAULTS = new ServiceOptions(1, Map.of());

  /** Creates options; {@code attributes} is copied. */
  public ServiceOptions {
    if (weight < 1) {
      throw new IllegalArgumentException("weight: " + weight + " (expected: >= 1)");
    }
    attributes = Map.copyOf(attributes);
  }

  /** Weight 1, no attributes. */
  public static ServiceOptions defaults() {
    return DEFAULTS;
  }

  /** A copy with this weight. */
  public ServiceOptions withWeight(int weight) {
    return new ServiceOptions(weight, attributes);
  }

  /** A copy with these attributes. */
  public ServiceOptions withAttributes(Map<String, String> attributes) {
    return new ServiceOptions(weight, attributes);
  }
}

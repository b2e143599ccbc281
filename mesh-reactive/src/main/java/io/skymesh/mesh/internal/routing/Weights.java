package io.skymesh.mesh.internal.routing;

import io.skymesh.mesh.Instance;
import java.util.Arrays;
import java.util.List;
import java.util.function.ToIntFunction;

/** Effective weights: from the {@code weight} attribute when it is valid, else as registered. */
public final class Weights {

  /** The attribute that overrides the registered weight. */
  public static final String ATTRIBUTE = "weight";

  /** The largest weight taken; larger ones are clamped so sums stay far from overflow. */
  static final int MAX_WEIGHT = 1_000_000;

  /** The weight attribute if it is a non-negative integer, else the registered weight. */
  public static final ToIntFunction<Instance> DEFAULT = Weights::effective;

  private Weights() {}

  static int effective(Instance instance) {
    String attribute = instance.attributes().get(ATTRIBUTE);
    if (attribute != null) {
      try {
        int weight = Integer.parseInt(attribute.trim());
        if (weight >= 0) {
          return weight;
        }
      } catch (NumberFormatException ignored) {
        // an unusable attribute falls back to the registered weight
      }
    }
    return instance.weight();
  }

  /**
   * Each instance's weight by {@code weigher}, clamped to {@code [0, MAX_WEIGHT]}; when every
   * weight is 0, every weight becomes 1.
   */
  static int[] of(List<Instance> instances, ToIntFunction<Instance> weigher) {
    int[] weights = new int[instances.size()];
    boolean anyPositive = false;
    for (int i = 0; i < weights.length; i++) {
      int weight = Math.min(Math.max(weigher.applyAsInt(instances.get(i)), 0), MAX_WEIGHT);
      weights[i] = weight;
      anyPositive |= weight > 0;
    }
    if (!anyPositive) {
      Arrays.fill(weights, 1);
    }
    return weights;
  }
}

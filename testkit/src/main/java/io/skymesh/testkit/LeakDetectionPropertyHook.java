package io.skymesh.testkit;

import net.jqwik.api.lifecycle.AroundPropertyHook;
import net.jqwik.api.lifecycle.PropagationMode;
import net.jqwik.api.lifecycle.PropertyExecutionResult;
import net.jqwik.api.lifecycle.PropertyExecutor;
import net.jqwik.api.lifecycle.PropertyLifecycleContext;

/**
 * Fails a jqwik property after which a Netty buffer is found leaked.
 *
 * <p>Registered globally through the service loader, so it applies to every property.
 */
public final class LeakDetectionPropertyHook implements AroundPropertyHook {

  /** Creates the hook; jqwik does this through the service loader. */
  public LeakDetectionPropertyHook() {}

  @Override
  public PropagationMode propagateTo() {
    return PropagationMode.ALL_DESCENDANTS;
  }

  @Override
  public PropertyExecutionResult aroundProperty(
      PropertyLifecycleContext context, PropertyExecutor property) {
    PropertyExecutionResult result = property.execute();
    try {
      LeakCheck.assertNoLeaks();
    } catch (AssertionError leak) {
      return result.mapToFailed(leak);
    }
    return result;
  }
}

package io.skymesh.testkit;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails a JUnit Jupiter test after which a Netty buffer is found leaked.
 *
 * <p>Registered for every test through JUnit's extension auto-detection, which the parent pom's
 * surefire configuration turns on.
 */
public final class LeakDetectionExtension implements AfterEachCallback {

  /** Creates the extension; JUnit does this through the service loader. */
  public LeakDetectionExtension() {}

  @Override
  public void afterEach(ExtensionContext context) {
    LeakCheck.assertNoLeaks();
  }
}

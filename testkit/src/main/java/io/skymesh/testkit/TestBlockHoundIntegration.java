package io.skymesh.testkit;

import reactor.blockhound.BlockHound;
import reactor.blockhound.integration.BlockHoundIntegration;

/**
 * BlockHound allowances that only tests need: the console logger of the test classpath writes to a
 * stream. Production code logs through whatever SLF4J binding the application picks.
 */
public final class TestBlockHoundIntegration implements BlockHoundIntegration {

  /** Creates the integration; BlockHound does this through the service loader. */
  public TestBlockHoundIntegration() {}

  @Override
  public void applyTo(BlockHound.Builder builder) {
    builder.allowBlockingCallsInside("org.slf4j.simple.SimpleLogger", "write");
  }
}

package io.skymesh.testkit;

import java.util.concurrent.ThreadPoolExecutor;
import reactor.blockhound.BlockHound;
import reactor.blockhound.integration.BlockHoundIntegration;

/**
 * BlockHound allowances that only tests need: the console logger of the test classpath writes to a
 * stream (production code logs through whatever SLF4J binding the application picks), and a thread
 * pool's bookkeeping lock, which must not be broken by an error thrown while waiting on it.
 */
public final class TestBlockHoundIntegration implements BlockHoundIntegration {

  /** Creates the integration; BlockHound does this through the service loader. */
  public TestBlockHoundIntegration() {}

  @Override
  public void applyTo(BlockHound.Builder builder) {
    builder.allowBlockingCallsInside("org.slf4j.simple.SimpleLogger", "write");
    // A thread pool takes its main lock for a few instructions to add, count or stop a worker
    // (Reactor allows processWorkerExit for the same reason). An event loop that submits to a pool
    // just as it starts or shuts down can wait there an instant. BlockHound's error, thrown from
    // inside the lock's park, would leave a dead waiter in the lock's queue that is woken in place
    // of the next real one, so every later user of the pool hangs: seen as a name server's close
    // that never ended, and in gRPC's executor under jetcd.
    for (String method : new String[] {"addWorker", "tryTerminate", "interruptIdleWorkers"}) {
      builder.allowBlockingCallsInside(ThreadPoolExecutor.class.getName(), method);
    }
  }
}

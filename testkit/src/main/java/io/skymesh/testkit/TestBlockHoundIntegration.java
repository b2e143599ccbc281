package io.skymesh.testkit;

import java.util.concurrent.ThreadPoolExecutor;
import reactor.blockhound.BlockHound;
import reactor.blockhound.integration.BlockHoundIntegration;

/**
 * BlockHound allowances that only tests need: the console logger of the test classpath writes to a
 * stream (production code logs through whatever SLF4J binding the application picks), and three
 * short bookkeeping locks, of a thread pool, of a scheduled pool's queue and of Netty's adaptive
 * allocator, which must not be broken by an error thrown while waiting on them.
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
    // Netty 4.2's default allocator grows its set of magazines when it sees threads contend for
    // them, under a StampedLock's write lock held for a few instructions (Netty's own integration
    // allows only the allocator's thread-local set-up). An event loop allocating its read buffer
    // just then can wait an instant; BlockHound's error, thrown from there, ends the connection's
    // inbound with that error. Seen as an RSocket channel that hung in StreamBenchmarkTest: its
    // client's FluxReceive held the BlockingOperationError in a heap dump of the hung JVM.
    builder.allowBlockingCallsInside(
        "io.netty.buffer.AdaptivePoolingAllocator$MagazineGroup", "tryExpandMagazines");
    // A task scheduled on a scheduled pool that has just shut down is taken back out of its queue
    // under the queue's lock (ScheduledThreadPoolExecutor.delayedExecute, then remove). Reactor
    // allows the same lock in the queue's offer and take, and a cancelled task's remove through
    // SchedulerTask.dispose, but not this path. Seen as an ERROR "onErrorDropped" with a
    // BlockingOperationError when an event loop handed the name server's writer one more task while
    // the server closed.
    builder.allowBlockingCallsInside(
        "java.util.concurrent.ScheduledThreadPoolExecutor$DelayedWorkQueue", "remove");
  }
}

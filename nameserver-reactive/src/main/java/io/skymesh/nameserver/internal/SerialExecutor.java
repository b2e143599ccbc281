package io.skymesh.nameserver.internal;

import java.util.Queue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.scheduler.Scheduler;
import reactor.util.concurrent.Queues;

/**
 * The one writer: runs tasks one at a time, in submission order, on a single-threaded scheduler.
 * Submitting is lock-free (an MPSC queue and a work-in-progress counter), so event loops hand work
 * over without blocking; the scheduler is woken once per burst, not once per task.
 */
final class SerialExecutor implements Executor {

  private static final Logger log = LoggerFactory.getLogger(SerialExecutor.class);

  private final Queue<Runnable> tasks = Queues.<Runnable>unboundedMultiproducer().get();
  private final AtomicInteger wip = new AtomicInteger();
  private final Scheduler scheduler;
  private final Runnable afterBatch;
  private final Runnable drain = this::drain;

  SerialExecutor(Scheduler scheduler, Runnable afterBatch) {
    this.scheduler = scheduler;
    this.afterBatch = afterBatch;
  }

  /** Queues {@code task}; it runs after every task submitted before it. Never blocks. */
  @Override
  public void execute(Runnable task) {
    tasks.offer(task);
    if (wip.getAndIncrement() == 0) {
      try {
        scheduler.schedule(drain);
      } catch (RejectedExecutionException e) {
        // The server is closed and its writer gone: nothing is left to update.
        tasks.clear();
        wip.set(0);
        log.debug("Name server writer is stopped; dropped a task");
      }
    }
  }

  private void drain() {
    int missed = 1;
    for (; ; ) {
      Runnable task;
      while ((task = tasks.poll()) != null) {
        try {
          task.run();
        } catch (Throwable t) {
          log.error("Name server writer task failed", t);
        }
      }
      try {
        afterBatch.run();
      } catch (Throwable t) {
        log.error("Name server writer task failed", t);
      }
      missed = wip.addAndGet(-missed);
      if (missed == 0) {
        return;
      }
    }
  }
}

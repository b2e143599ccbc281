package io.skymesh.testkit;

import io.netty.buffer.ByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import java.lang.ref.PhantomReference;
import java.lang.ref.Reference;
import java.lang.ref.ReferenceQueue;
import java.util.ArrayList;
import java.util.List;

/**
 * Finds the Netty buffers (and other resources tracked by Netty's leak detector, such as the mesh's
 * pooled payload arrays) that became garbage without being released.
 *
 * <p>Netty reports a leak only when a tracked buffer has been garbage-collected and a later
 * tracking polls the collector's queue. {@link #collectLeaks()} makes both happen now: it runs the
 * collector until a sentinel object of its own has been enqueued (so reference processing of that
 * cycle is done), then makes every leak detector look at its references ({@code
 * RecordingLeakDetector.poll}), which makes them report; and it does so twice, since on a loaded
 * machine one cycle does not always enqueue every reference.
 */
public final class LeakCheck {

  /** Collections per check: one is not always enough for Netty's references to be enqueued. */
  private static final int ROUNDS = 2;

  /** How long to wait for a collection's references to be processed, on a loaded machine too. */
  private static final long SENTINEL_WAIT_MILLIS = 5_000;

  private LeakCheck() {}

  /**
   * Collects garbage, lets Netty report what leaked, and returns the reports (and forgets them).
   *
   * @return one report per leaked buffer, with the access records Netty kept; empty if none
   * @throws IllegalStateException if the JVM does not run with the recording detector at paranoid
   */
  public static List<String> collectLeaks() {
    requireInstalled();
    List<String> leaks = new ArrayList<>();
    for (int round = 0; round < ROUNDS; round++) {
      awaitCollection();
      // Every detector, the buffers' included, looks at its references now.
      RecordingLeakDetector.poll();
      leaks.addAll(RecordingLeakDetector.drain());
    }
    return leaks;
  }

  /**
   * Fails with every leak report if any buffer leaked since the last check.
   *
   * @throws AssertionError listing the leaks
   */
  public static void assertNoLeaks() {
    List<String> leaks = collectLeaks();
    if (!leaks.isEmpty()) {
      throw new AssertionError(
          leaks.size()
              + " Netty buffer(s) or other tracked resource(s) leaked:\n"
              + String.join("\n\n", leaks));
    }
  }

  private static void requireInstalled() {
    // Touching a buffer class creates the ByteBuf detector if no test has done so yet.
    ByteBufAllocator.DEFAULT.buffer(1).release();
    if (!RecordingLeakDetector.installed()
        || ResourceLeakDetector.getLevel() != ResourceLeakDetector.Level.PARANOID) {
      throw new IllegalStateException(
          "Tests must run with -Dio.netty.leakDetection.level=paranoid and"
              + " -Dio.netty.customResourceLeakDetector="
              + RecordingLeakDetector.class.getName()
              + " (the parent pom's surefire argLine sets both)");
    }
  }

  private static void awaitCollection() {
    ReferenceQueue<Object> queue = new ReferenceQueue<>();
    PhantomReference<Object> sentinel = new PhantomReference<>(new Object(), queue);
    try {
      long deadline = System.nanoTime() + SENTINEL_WAIT_MILLIS * 1_000_000;
      while (System.nanoTime() < deadline) {
        System.gc();
        if (queue.remove(50) != null) {
          return;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      Reference.reachabilityFence(sentinel);
    }
  }
}

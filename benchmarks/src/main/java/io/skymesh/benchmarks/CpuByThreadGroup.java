package io.skymesh.benchmarks;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.util.Map;
import java.util.TreeMap;

/**
 * The CPU time of this JVM's threads by group (a thread's name without its trailing number, so a
 * pool's threads count together), per operation since the last look, with the part of it spent in
 * the kernel (system calls: for an event loop on loopback TCP, the sockets' writes, which also
 * carry the bytes through the receiving side's network stack).
 */
final class CpuByThreadGroup {

  /** A group's CPU time and the part of it in user mode, in nanoseconds. */
  private record Times(long cpu, long user) {
    Times plus(Times other) {
      return new Times(cpu + other.cpu, user + other.user);
    }
  }

  private static final Times NONE = new Times(0, 0);

  /**
   * The JVM reads a thread's user time in clock ticks (10 ms on Linux) but its CPU time in
   * nanoseconds, so the kernel part is shown only for groups busy enough for the ticks not to
   * matter: the event loops, at several milliseconds per change over an iteration of seconds.
   */
  private static final double KERNEL_SHOWN_FROM_MICROS = 1000;

  private Map<String, Times> atStart = snapshot();

  /**
   * A line of the CPU time each group spent per change since the last call, and of it in the kernel
   * (groups under 10 µs per change left out), and starts counting afresh.
   */
  String perChangeSinceLast(double changes, String where) {
    Map<String, Times> now = snapshot();
    StringBuilder line = new StringBuilder("CPU per change (" + where + "):");
    if (changes > 0) {
      now.forEach(
          (group, times) -> {
            Times before = atStart.getOrDefault(group, NONE);
            double perChange = (times.cpu - before.cpu) / changes / 1e3;
            double kernel = perChange - (times.user - before.user) / changes / 1e3;
            if (perChange >= KERNEL_SHOWN_FROM_MICROS) {
              line.append(String.format(" %s %.0f us (kernel %.0f);", group, perChange, kernel));
            } else if (perChange >= 10) {
              line.append(String.format(" %s %.0f us;", group, perChange));
            }
          });
    }
    atStart = now;
    return line.toString();
  }

  /** Starts counting afresh. */
  void reset() {
    atStart = snapshot();
  }

  private static Map<String, Times> snapshot() {
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    Map<String, Times> byGroup = new TreeMap<>();
    for (ThreadInfo info : threads.getThreadInfo(threads.getAllThreadIds())) {
      if (info == null) {
        continue;
      }
      long cpu = threads.getThreadCpuTime(info.getThreadId());
      long user = threads.getThreadUserTime(info.getThreadId());
      if (cpu > 0 && user >= 0) {
        byGroup.merge(
            info.getThreadName().replaceAll("[-#]?\\d+$", ""), new Times(cpu, user), Times::plus);
      }
    }
    return byGroup;
  }
}

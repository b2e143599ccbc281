package io.skymesh.benchmarks;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.util.Map;
import java.util.TreeMap;

/**
 * The CPU time of this JVM's threads by group (a thread's name without its trailing number, so a
 * pool's threads count together), per operation since the last look.
 */
final class CpuByThreadGroup {

  private Map<String, Long> atStart = snapshot();

  /**
   * A line of the CPU time each group spent per change since the last call (groups under 10 µs per
   * change left out), and starts counting afresh.
   */
  String perChangeSinceLast(double changes, String where) {
    Map<String, Long> now = snapshot();
    StringBuilder line = new StringBuilder("CPU per change (" + where + "):");
    if (changes > 0) {
      now.forEach(
          (group, nanos) -> {
            double perChange = (nanos - atStart.getOrDefault(group, 0L)) / changes / 1e3;
            if (perChange >= 10) {
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

  private static Map<String, Long> snapshot() {
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    Map<String, Long> byGroup = new TreeMap<>();
    for (ThreadInfo info : threads.getThreadInfo(threads.getAllThreadIds())) {
      if (info == null) {
        continue;
      }
      long nanos = threads.getThreadCpuTime(info.getThreadId());
      if (nanos > 0) {
        byGroup.merge(info.getThreadName().replaceAll("[-#]?\\d+$", ""), nanos, Long::sum);
      }
    }
    return byGroup;
  }
}

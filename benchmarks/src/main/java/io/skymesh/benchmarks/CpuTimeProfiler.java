package io.skymesh.benchmarks;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.stream.Stream;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.profile.InternalProfiler;
import org.openjdk.jmh.results.AggregationPolicy;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.ScalarResult;

/**
 * A JMH profiler of the CPU time the benchmark's JVM spends per operation: {@code -prof
 * io.skymesh.benchmarks.CpuTimeProfiler} (which {@code run.sh} adds). Two secondary results per
 * iteration:
 *
 * <ul>
 *   <li>{@code cpu.time.norm}, nanoseconds of CPU per operation: the JVM's CPU time over the
 *       iteration (every thread: event loops, callers, the collector, the compiler; user and
 *       kernel) divided by the iteration's operations, as {@code gc.alloc.rate.norm} divides its
 *       bytes. What an operation costs, whether or not the machine was kept busy.
 *   <li>{@code cpu.busy}, CPUs: that CPU time divided by the iteration's wall time. With both sides
 *       of a pair in one JVM, the rest of a 2-CPU machine is idle time: threads asleep, waiting for
 *       each other.
 * </ul>
 *
 * <p>On Linux, per event loop of {@link EventLoops} (the threads named {@code bench-caller…} and
 * {@code bench-handler…}, read from {@code /proc/self/task}), three more per iteration, so that an
 * iteration that runs slower can be told apart: its loops doing more per operation, or sleeping
 * more often (waiting for each other):
 *
 * <ul>
 *   <li>{@code loop.caller.cpu.norm} and {@code loop.handler.cpu.norm}, nanoseconds of the loop's
 *       CPU per operation (in the kernel's 10 ms ticks, so about 1% coarse over an iteration);
 *   <li>{@code loop.caller.sys.norm} and {@code loop.handler.sys.norm}, the part of it in the
 *       kernel;
 *   <li>{@code loop.caller.sleeps.norm} and {@code loop.handler.sleeps.norm}, the loop's voluntary
 *       context switches (a wait in {@code epoll_wait} with nothing ready, mostly) per thousand
 *       operations.
 * </ul>
 *
 * <p>Rate = busy CPUs / CPU per operation, so the two tell a library that does less work per
 * request from one that keeps the machine busier. Process CPU time is {@code
 * CLOCK_PROCESS_CPUTIME_ID} through {@code com.sun.management.OperatingSystemMXBean}; on a JVM
 * without it the profiler reports nothing. It needs no hardware counters, which this project's
 * virtual machines do not expose to {@code -prof perfnorm}.
 */
public final class CpuTimeProfiler implements InternalProfiler {

  private final com.sun.management.OperatingSystemMXBean os;
  private long cpuBefore;
  private long wallBefore;
  private LoopTimes callerBefore;
  private LoopTimes handlerBefore;

  /** A profiler; JMH makes one per fork. */
  public CpuTimeProfiler() {
    os =
        ManagementFactory.getOperatingSystemMXBean()
                instanceof com.sun.management.OperatingSystemMXBean bean
            ? bean
            : null;
  }

  @Override
  public String getDescription() {
    return "CPU time of the benchmark's JVM per operation, and CPUs kept busy";
  }

  @Override
  public void beforeIteration(BenchmarkParams benchmarkParams, IterationParams iterationParams) {
    if (os != null) {
      wallBefore = System.nanoTime();
      cpuBefore = os.getProcessCpuTime();
    }
    callerBefore = LoopTimes.read("bench-caller");
    handlerBefore = LoopTimes.read("bench-handler");
  }

  @Override
  @SuppressWarnings("rawtypes") // JMH's interface declares the raw type
  public Collection<? extends Result> afterIteration(
      BenchmarkParams benchmarkParams, IterationParams iterationParams, IterationResult result) {
    if (os == null) {
      return List.of();
    }
    long cpuAfter = os.getProcessCpuTime();
    long wall = System.nanoTime() - wallBefore;
    long operations = result.getMetadata().getAllOps();
    if (cpuBefore < 0 || cpuAfter < 0 || wall <= 0 || operations <= 0) {
      return List.of(); // -1: the OS does not report process CPU time
    }
    long cpu = cpuAfter - cpuBefore;
    List<Result> results = new ArrayList<>();
    results.add(
        new ScalarResult(
            "cpu.time.norm", (double) cpu / operations, "ns/op", AggregationPolicy.AVG));
    results.add(new ScalarResult("cpu.busy", (double) cpu / wall, "CPUs", AggregationPolicy.AVG));
    addLoop(results, "caller", callerBefore, LoopTimes.read("bench-caller"), operations);
    addLoop(results, "handler", handlerBefore, LoopTimes.read("bench-handler"), operations);
    return results;
  }

  @SuppressWarnings("rawtypes") // JMH's results are of the raw type
  private static void addLoop(
      List<Result> results, String name, LoopTimes before, LoopTimes after, long operations) {
    if (before == null || after == null) {
      return;
    }
    double ops = operations;
    String prefix = "loop." + name + ".";
    results.add(
        new ScalarResult(
            prefix + "cpu.norm",
            (after.cpuNanos() - before.cpuNanos()) / ops,
            "ns/op",
            AggregationPolicy.AVG));
    results.add(
        new ScalarResult(
            prefix + "sys.norm",
            (after.sysNanos() - before.sysNanos()) / ops,
            "ns/op",
            AggregationPolicy.AVG));
    results.add(
        new ScalarResult(
            prefix + "sleeps.norm",
            (after.sleeps() - before.sleeps()) * 1000 / ops,
            "#/kop",
            AggregationPolicy.AVG));
  }

  /**
   * The summed CPU time (user and kernel, from {@code stat}) and voluntary context switches (from
   * {@code status}) of this JVM's threads whose name starts with a prefix; null where there is no
   * {@code /proc} or no such thread.
   */
  private record LoopTimes(long cpuNanos, long sysNanos, long sleeps) {

    /** Linux's {@code USER_HZ}, which {@code stat} counts in: 100 on every common build. */
    private static final long NANOS_PER_TICK = 10_000_000L;

    static LoopTimes read(String prefix) {
      Path tasks = Path.of("/proc/self/task");
      if (!Files.isDirectory(tasks)) {
        return null;
      }
      long cpu = 0;
      long sys = 0;
      long sleeps = 0;
      boolean found = false;
      try (Stream<Path> threads = Files.list(tasks)) {
        for (Path thread : (Iterable<Path>) threads::iterator) {
          try {
            String name = Files.readString(thread.resolve("comm")).trim();
            if (!name.startsWith(prefix)) {
              continue;
            }
            // Fields after the name's closing parenthesis: utime and stime are the 12th and 13th.
            String stat = Files.readString(thread.resolve("stat"));
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            long user = Long.parseLong(fields[11]);
            long kernel = Long.parseLong(fields[12]);
            cpu += (user + kernel) * NANOS_PER_TICK;
            sys += kernel * NANOS_PER_TICK;
            for (String line : Files.readAllLines(thread.resolve("status"))) {
              if (line.startsWith("voluntary_ctxt_switches:")) {
                sleeps += Long.parseLong(line.substring(line.indexOf(':') + 1).trim());
              }
            }
            found = true;
          } catch (IOException | RuntimeException gone) {
            // The thread ended between the listing and the read: it no longer counts.
          }
        }
      } catch (IOException e) {
        return null;
      }
      return found ? new LoopTimes(cpu, sys, sleeps) : null;
    }
  }
}

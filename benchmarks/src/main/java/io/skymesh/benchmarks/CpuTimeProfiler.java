package io.skymesh.benchmarks;

import java.lang.management.ManagementFactory;
import java.util.Collection;
import java.util.List;
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
    return List.of(
        new ScalarResult(
            "cpu.time.norm", (double) cpu / operations, "ns/op", AggregationPolicy.AVG),
        new ScalarResult("cpu.busy", (double) cpu / wall, "CPUs", AggregationPolicy.AVG));
  }
}

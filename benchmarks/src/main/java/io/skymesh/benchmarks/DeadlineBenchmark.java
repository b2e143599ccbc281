package io.skymesh.benchmarks;

import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.HashedWheelTimer;
import io.netty.util.Timeout;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.skymesh.core.exceptions.MeshTimeoutException;
import io.skymesh.mesh.internal.rpc.Deadlines;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.Blackhole;
import reactor.core.publisher.Mono;

/**
 * A request's deadline, armed and disarmed around a call that answers at once: what every request
 * pays on each side when it beats its deadline, as it nearly always does. Four ways, same 30 s
 * deadline:
 *
 * <ul>
 *   <li>{@code skymeshOnEventLoop}: {@link Deadlines#within} on a Netty event loop, which keeps the
 *       deadline itself, {@value #ON_LOOP} calls per task handed to the loop;
 *   <li>{@code skymesh}: {@link Deadlines#within} on this (JMH's) thread, one operator over a Netty
 *       {@link HashedWheelTimer};
 *   <li>{@code timeoutOverWheel}: what it replaced, {@code Mono.timeout(after, Mono.error(...))}
 *       where {@code after} is a {@code Mono.create} arming a wheel timer entry;
 *   <li>{@code timeoutOnParallel}: Reactor's {@code Mono.timeout(Duration)} on the parallel
 *       scheduler.
 * </ul>
 *
 * <pre>{@code
 * java -jar benchmarks/target/benchmarks.jar Deadline -prof gc
 * }</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class DeadlineBenchmark {

  private static final Duration DEADLINE = Duration.ofSeconds(30);
  private static final Supplier<MeshTimeoutException> LATE =
      () -> new MeshTimeoutException("no reply within " + DEADLINE);

  // hide(): a call is no scalar source, so no operator may take a shortcut for it.
  private final Mono<Integer> call = Mono.just(42).hide();
  private HashedWheelTimer wheel;
  private EventLoopGroup loops;
  private EventLoop loop;

  /** Calls made per task handed to the event loop. */
  static final int ON_LOOP = 1024;

  /** Starts the wheel of the replaced way, and the event loop. */
  @Setup
  public void setUp() {
    loops = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    loop = loops.next();
    wheel =
        new HashedWheelTimer(
            new DefaultThreadFactory("bench-deadline", true),
            Deadlines.TICK_MILLIS,
            TimeUnit.MILLISECONDS,
            512);
    wheel.start();
  }

  /** Stops the wheel and the event loop. */
  @TearDown
  public void tearDown() {
    wheel.stop();
    loops.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
  }

  /**
   * {@link Deadlines#within} on an event loop, {@value #ON_LOOP} calls per task.
   *
   * @param blackhole the sink of the values
   * @throws InterruptedException if interrupted while waiting for the loop
   * @throws ExecutionException if the task failed
   */
  @Benchmark
  @OperationsPerInvocation(ON_LOOP)
  public void skymeshOnEventLoop(Blackhole blackhole)
      throws InterruptedException, ExecutionException {
    loop.submit(
            () -> {
              for (int i = 0; i < ON_LOOP; i++) {
                Deadlines.within(call, DEADLINE.toNanos(), LATE).subscribe(blackhole::consume);
              }
            })
        .get();
  }

  /**
   * {@link Deadlines#within}.
   *
   * @param blackhole the sink of the values
   */
  @Benchmark
  public void skymesh(Blackhole blackhole) {
    Deadlines.within(call, DEADLINE.toNanos(), LATE).subscribe(blackhole::consume);
  }

  /**
   * {@code Mono.timeout} with a wheel-timer {@code Mono} as the first timeout.
   *
   * @param blackhole the sink of the values
   */
  @Benchmark
  public void timeoutOverWheel(Blackhole blackhole) {
    call.timeout(after(DEADLINE.toNanos()), Mono.error(LATE)).subscribe(blackhole::consume);
  }

  /**
   * {@code Mono.timeout(Duration)} on the parallel scheduler.
   *
   * @param blackhole the sink of the values
   */
  @Benchmark
  public void timeoutOnParallel(Blackhole blackhole) {
    call.timeout(DEADLINE).subscribe(blackhole::consume);
  }

  private Mono<Boolean> after(long nanos) {
    return Mono.create(
        sink -> {
          Timeout timeout =
              wheel.newTimeout(expired -> sink.success(Boolean.TRUE), nanos, TimeUnit.NANOSECONDS);
          sink.onCancel(timeout::cancel);
        });
  }
}

package io.skymesh.mesh.internal.rpc;

import io.netty.util.HashedWheelTimer;
import io.netty.util.Timeout;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import reactor.core.publisher.Mono;

/**
 * Request deadlines, client and server, on one Netty {@link HashedWheelTimer} per JVM.
 *
 * <p>Arming and cancelling a deadline is a lock-free queue offer; the timer's own thread (a daemon,
 * {@code skymesh-deadline}) files them into its wheel every tick. {@code Mono.timeout(Duration)}
 * used the parallel scheduler instead, whose {@code ScheduledThreadPoolExecutor} takes a lock to
 * insert and again to remove each of the two timers of every request. A deadline fires on the tick
 * after it passes (at most {@value #TICK_MILLIS} ms late), never early.
 */
final class Deadlines {

  static final long TICK_MILLIS = 10;

  private static final HashedWheelTimer TIMER = timer();

  private Deadlines() {}

  /**
   * {@code source} bounded by a deadline: when it passes first, {@code source} is cancelled and the
   * result fails with {@code onDeadline}'s exception (emitted on the timer's thread).
   *
   * @param source the work
   * @param nanos the time allowed from subscription, positive
   * @param onDeadline the failure
   * @param <T> the value
   * @return the bounded work
   */
  static <T> Mono<T> within(Mono<T> source, long nanos, Supplier<? extends Throwable> onDeadline) {
    return source.timeout(after(nanos), Mono.error(onDeadline));
  }

  /** Emits once, {@code nanos} after subscription; cancelling disarms it. */
  private static Mono<Boolean> after(long nanos) {
    return Mono.create(
        sink -> {
          Timeout timeout =
              TIMER.newTimeout(expired -> sink.success(Boolean.TRUE), nanos, TimeUnit.NANOSECONDS);
          sink.onCancel(timeout::cancel);
        });
  }

  private static HashedWheelTimer timer() {
    HashedWheelTimer timer =
        new HashedWheelTimer(
            new DefaultThreadFactory("skymesh-deadline", true),
            TICK_MILLIS,
            TimeUnit.MILLISECONDS,
            512);
    // Started here, so that no event loop waits for the worker to start on its first deadline.
    timer.start();
    return timer;
  }
}

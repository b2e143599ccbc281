package io.skymesh.mesh.internal.rpc;

import io.netty.util.HashedWheelTimer;
import io.netty.util.Timeout;
import io.netty.util.TimerTask;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.function.Supplier;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Operators;
import reactor.util.context.Context;

/**
 * Request deadlines, client and server, on one Netty {@link HashedWheelTimer} per JVM.
 *
 * <p>Arming and cancelling a deadline is a lock-free queue offer; the timer's own thread (a daemon,
 * {@code skymesh-deadline}) files them into its wheel every tick. {@code Mono.timeout(Duration)}
 * used the parallel scheduler instead, whose {@code ScheduledThreadPoolExecutor} takes a lock to
 * insert and again to remove each of the two timers of every request. A deadline fires on the tick
 * after it passes (at most {@value #TICK_MILLIS} ms late), never early.
 *
 * <p>A caller's deadline is armed before its call starts. A handler's ({@link #handling}) is armed
 * once the handler's {@code subscribe} has returned, for the time left, and not at all if the
 * handler answered during it: a handler that answers synchronously ({@code Mono.just}, a cached
 * value) costs no timer entry, and its answer is relayed even if producing it overran the deadline.
 * The caller's timer is thus always filed first, and of two deadlines due on the same tick the
 * caller's fires first.
 */
public final class Deadlines {

  /** The wheel's tick: a deadline fires at most this late. */
  public static final long TICK_MILLIS = 10;

  private static final HashedWheelTimer TIMER = timer();

  private Deadlines() {}

  /**
   * {@code source} bounded by a deadline: when it passes first, {@code source} is cancelled and the
   * result fails with {@code onDeadline}'s exception (emitted on the timer's thread, or on the
   * subscriber's if the time ran out while the source was being subscribed).
   *
   * <p>One operator and one timer entry per subscription. {@code source.timeout(after(nanos),
   * Mono.error(...))} did the same with three operators, two inner subscribers, a sink and its
   * disposable per request (measured in {@code RequestResponseBenchmark} with {@code -prof gc}).
   *
   * @param source the work
   * @param nanos the time allowed from subscription, positive
   * @param onDeadline the failure
   * @param <T> the value
   * @return the bounded work
   */
  public static <T> Mono<T> within(
      Mono<T> source, long nanos, Supplier<? extends Throwable> onDeadline) {
    return new Bounded<>(source, nanos, onDeadline, false);
  }

  /**
   * A handler's {@code work} bounded by a deadline, as {@link #within(Mono, long, Supplier)}, but
   * with the timer armed only if the work has not ended by the time its {@code subscribe} returns,
   * for the time left then.
   *
   * @param work the handler's work
   * @param nanos the time allowed from subscription, positive
   * @param onDeadline the failure
   * @param <T> the value
   * @return the bounded work
   */
  public static <T> Mono<T> handling(
      Mono<T> work, long nanos, Supplier<? extends Throwable> onDeadline) {
    return new Bounded<>(work, nanos, onDeadline, true);
  }

  /**
   * A stream bounded by a deadline over its whole life: when it passes first, {@code source} is
   * cancelled and the result fails with {@code onDeadline}'s exception. Streams are opened far less
   * often than requests are made, so this uses Reactor's operators and its parallel scheduler
   * rather than the wheel.
   *
   * @param source the stream
   * @param nanos the time allowed from subscription, positive
   * @param onDeadline the failure
   * @param <T> the items
   * @return the bounded stream
   */
  public static <T> Flux<T> within(
      Flux<T> source, long nanos, Supplier<? extends Throwable> onDeadline) {
    return Flux.defer(
        () -> {
          AtomicBoolean passed = new AtomicBoolean();
          Mono<Long> deadline =
              Mono.delay(Duration.ofNanos(nanos)).doOnNext(tick -> passed.set(true));
          // takeUntilOther cancels the source when the deadline passes, then completes: the
          // completion becomes the deadline's error. (An error of the other publisher would not
          // cancel the source.)
          return source
              .takeUntilOther(deadline)
              .concatWith(
                  Mono.defer(() -> passed.get() ? Mono.error(onDeadline.get()) : Mono.empty()));
        });
  }

  private static final class Bounded<T> extends Mono<T> {
    private final Mono<T> source;
    private final long nanos;
    private final Supplier<? extends Throwable> onDeadline;
    private final boolean armLate;

    Bounded(Mono<T> source, long nanos, Supplier<? extends Throwable> onDeadline, boolean armLate) {
      this.source = source;
      this.nanos = nanos;
      this.onDeadline = onDeadline;
      this.armLate = armLate;
    }

    @Override
    public void subscribe(CoreSubscriber<? super T> actual) {
      BoundedSubscriber<T> bounded = new BoundedSubscriber<>(actual, onDeadline);
      actual.onSubscribe(bounded);
      if (!armLate) {
        bounded.arm(nanos);
        source.subscribe(bounded);
        return;
      }
      long start = System.nanoTime();
      source.subscribe(bounded);
      if (bounded.state == BoundedSubscriber.RUNNING) {
        bounded.arm(nanos - (System.nanoTime() - start));
      }
    }
  }

  /**
   * Relays the source's signals unless the deadline came first. The {@code state} flag decides
   * races: the deadline and the downstream's cancel act only while nothing arrived; a value disarms
   * the timer and is relayed, and the source's own completion then ends the result, as {@code
   * Mono.timeout} does.
   */
  private static final class BoundedSubscriber<T> extends Operators.DeferredSubscription
      implements CoreSubscriber<T>, TimerTask {

    private static final int RUNNING = 0;
    private static final int VALUED = 1;
    private static final int DONE = 2;

    @SuppressWarnings(
        "rawtypes") // a field updater is made from the class, not a parameterized type
    private static final AtomicIntegerFieldUpdater<BoundedSubscriber> STATE =
        AtomicIntegerFieldUpdater.newUpdater(BoundedSubscriber.class, "state");

    private final CoreSubscriber<? super T> actual;
    private final Supplier<? extends Throwable> onDeadline;
    private volatile int state;
    private volatile Timeout timeout;

    BoundedSubscriber(CoreSubscriber<? super T> actual, Supplier<? extends Throwable> onDeadline) {
      this.actual = actual;
      this.onDeadline = onDeadline;
    }

    /**
     * Arms the timer for {@code nanos} from now; if that is not in the future, the deadline passes.
     */
    void arm(long nanos) {
      if (nanos <= 0) {
        run(null);
        return;
      }
      Timeout armed = TIMER.newTimeout(this, nanos, TimeUnit.NANOSECONDS);
      timeout = armed;
      if (state != RUNNING) {
        // A value, the end or a cancel came before the timer was armed.
        armed.cancel();
      }
    }

    @Override
    public Context currentContext() {
      return actual.currentContext();
    }

    @Override
    public void onSubscribe(Subscription s) {
      set(s);
    }

    @Override
    public void onNext(T value) {
      if (STATE.compareAndSet(this, RUNNING, VALUED)) {
        disarm();
        actual.onNext(value);
      } else {
        Operators.onDiscard(value, actual.currentContext());
      }
    }

    @Override
    public void onError(Throwable error) {
      if (end()) {
        actual.onError(error);
      } else {
        Operators.onErrorDropped(error, actual.currentContext());
      }
    }

    @Override
    public void onComplete() {
      if (end()) {
        actual.onComplete();
      }
    }

    /** The deadline passed. */
    @Override
    public void run(Timeout expired) {
      if (STATE.compareAndSet(this, RUNNING, DONE)) {
        super.cancel();
        actual.onError(onDeadline.get());
      }
    }

    @Override
    public void cancel() {
      if (end()) {
        super.cancel();
      }
    }

    /** Wins the end from running or valued, disarming the timer; false if it had ended. */
    private boolean end() {
      for (int current = state; current != DONE; current = state) {
        if (STATE.compareAndSet(this, current, DONE)) {
          disarm();
          return true;
        }
      }
      return false;
    }

    private void disarm() {
      Timeout armed = timeout;
      if (armed != null) {
        armed.cancel();
      }
    }
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

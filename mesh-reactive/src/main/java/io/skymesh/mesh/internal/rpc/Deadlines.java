package io.skymesh.mesh.internal.rpc;

import io.netty.channel.EventLoop;
import io.netty.util.HashedWheelTimer;
import io.netty.util.Timeout;
import io.netty.util.TimerTask;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.FastThreadLocal;
import io.netty.util.concurrent.FastThreadLocalThread;
import io.netty.util.internal.PlatformDependent;
import io.netty.util.internal.ThreadExecutorMap;
import java.time.Duration;
import java.util.Queue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Operators;
import reactor.util.context.Context;

/**
 * Request deadlines, client and server: a caller's on the event loop it was armed on, when it was
 * armed on one, and the others on one Netty {@link HashedWheelTimer} per JVM.
 *
 * <p><b>The caller's deadline on its event loop.</b> A request made on a Netty event loop (a
 * handler's call, the next call of a pipelined caller, made where the last reply arrived) files its
 * deadline with that loop: at the tail of the loop's list of deadlines of that length, since
 * deadlines of one length armed on one thread expire in the order they were armed. Arming and
 * disarming it on its loop are a few plain writes, with no atomic operation and no object; a disarm
 * from another thread is one lock-free queue offer, drained at the loop's next sweep. The loop
 * sweeps every {@value #TICK_MILLIS} ms while it holds a deadline. The wheel costs an entry object,
 * two queue offers and two updates of a counter that every thread shares per request, and its own
 * thread's work: about 3% of a request's CPU and 55 bytes in {@code RequestResponseBenchmark} (see
 * {@code benchmarks/README.md}), and its shared counter and queues are contended the more, the more
 * loops a process runs. A loop keeps at most eight lengths at once; a deadline of another length,
 * one armed off an event loop or on a loop shutting down, goes to the wheel. A loop that terminates
 * hands the deadlines it still holds to the wheel.
 *
 * <p><b>On the wheel.</b> Arming and cancelling a deadline is a lock-free queue offer; the timer's
 * own thread (a daemon, {@code skymesh-deadline}) files them into its wheel every tick. {@code
 * Mono.timeout(Duration)} used the parallel scheduler instead, whose {@code
 * ScheduledThreadPoolExecutor} takes a lock to insert and again to remove each of the two timers of
 * every request.
 *
 * <p>Either way a deadline fires on the first tick or sweep after it passes (at most {@value
 * #TICK_MILLIS} ms late on a loop that is not held up), never early. A deadline on a loop fires on
 * that loop, after the I/O the loop is handling; one on the wheel fires on the wheel's thread.
 *
 * <p>A caller's deadline is armed before its call starts. A handler's ({@link #handling}) is armed
 * once the handler's {@code subscribe} has returned, for the time left, and not at all if the
 * handler answered during it: a handler that answers synchronously ({@code Mono.just}, a cached
 * value) costs no timer entry, and its answer is relayed even if producing it overran the deadline.
 * A handler's deadline, whose length differs from call to call, is always on the wheel. So of a
 * caller's deadline and the deadline of its in-process handler, due on the same tick, either may
 * end the call first; both end it with the same exception type (a handler's deadline is answered as
 * {@code DEADLINE_EXCEEDED}).
 */
public final class Deadlines {

  /** The wheel's tick: a deadline fires at most this late. */
  public static final long TICK_MILLIS = 10;

  private static final HashedWheelTimer TIMER = timer();

  private Deadlines() {}

  /**
   * {@code source} bounded by a deadline: when it passes first, {@code source} is cancelled and the
   * result fails with {@code onDeadline}'s exception (emitted on the event loop the deadline was
   * armed on, or on the wheel's thread, or on the subscriber's if the time ran out while the source
   * was being subscribed).
   *
   * <p>One operator per subscription, and a wheel entry only off an event loop. {@code
   * source.timeout(after(nanos), Mono.error(...))} did the same with three operators, two inner
   * subscribers, a sink and its disposable per request (measured in {@code
   * RequestResponseBenchmark} with {@code -prof gc}).
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
        bounded.arm(nanos, true);
        source.subscribe(bounded);
        return;
      }
      long start = System.nanoTime();
      source.subscribe(bounded);
      if (bounded.running()) {
        bounded.arm(nanos - (System.nanoTime() - start), false);
      }
    }
  }

  /**
   * The callers' deadlines this thread's event loop holds now, for tests; 0 off a loop.
   *
   * @return how many
   */
  static int heldOnThisLoop() {
    LoopDeadlines here = LoopDeadlines.current();
    return here == null ? 0 : here.held();
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
    private volatile @Nullable Timeout timeout;

    /** The loop holding the deadline, if one does; set once, after it is filed there. */
    private volatile @Nullable LoopDeadlines loop;

    // Kept by the loop's thread only: the deadline's place in the loop's list of its length.
    LoopDeadlines.@Nullable Lane lane;
    @Nullable BoundedSubscriber<?> previous;
    @Nullable BoundedSubscriber<?> next;
    long deadline;

    BoundedSubscriber(CoreSubscriber<? super T> actual, Supplier<? extends Throwable> onDeadline) {
      this.actual = actual;
      this.onDeadline = onDeadline;
    }

    /**
     * Arms the deadline for {@code nanos} from now, on this thread's event loop if {@code onLoop}
     * and it takes it, else on the wheel; if that is not in the future, the deadline passes.
     */
    void arm(long nanos, boolean onLoop) {
      if (nanos <= 0) {
        run(null);
        return;
      }
      LoopDeadlines here = onLoop ? LoopDeadlines.current() : null;
      if (here != null && here.add(this, nanos)) {
        loop = here;
        if (state != RUNNING) {
          // A value, the end or a cancel came before the deadline was filed (on this thread, or
          // on another that did not see the loop yet).
          here.remove(this);
        }
        return;
      }
      armOnWheel(nanos);
    }

    /** Arms the wheel's timer for {@code nanos} from now (or passes the deadline, if not later). */
    void armOnWheel(long nanos) {
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

    /** Whether the deadline still waits: nothing arrived, nothing was cancelled. */
    boolean running() {
      return state == RUNNING;
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

    /**
     * Wins the end from running or valued, disarming the deadline if still armed (a value disarmed
     * it already); false if it had ended.
     */
    private boolean end() {
      for (int current = state; current != DONE; current = state) {
        if (STATE.compareAndSet(this, current, DONE)) {
          if (current == RUNNING) {
            disarm();
          }
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
      LoopDeadlines holder = loop;
      if (holder != null) {
        holder.remove(this);
      }
    }
  }

  /**
   * The callers' deadlines armed on one event loop, kept by that loop's thread: per length of
   * deadline, a list in the order of arming, which is the order of expiry. The loop's thread adds
   * and removes with plain writes; another thread's remove is queued for the loop's next sweep,
   * every {@value #TICK_MILLIS} ms while the loop holds a deadline, which also fires those passed.
   */
  private static final class LoopDeadlines implements Runnable {

    /** The most lengths a loop keeps lists for at once. */
    static final int LENGTHS = 8;

    /**
     * This thread's loop; null on a thread of no event loop (a {@code FastThreadLocal} keeps a null
     * initial value, so it is worked out once per thread).
     */
    private static final FastThreadLocal<@Nullable LoopDeadlines> CURRENT =
        new FastThreadLocal<>() {
          @Override
          protected @Nullable LoopDeadlines initialValue() {
            // Only the loop's own thread: it alone may touch the lists without atomics.
            EventExecutor executor = ThreadExecutorMap.currentExecutor();
            return executor instanceof EventLoop eventLoop && eventLoop.inEventLoop()
                ? new LoopDeadlines(eventLoop)
                : null;
          }
        };

    private final EventLoop eventLoop;
    private final Lane[] lanes = new Lane[LENGTHS];
    private final Queue<BoundedSubscriber<?>> removed = PlatformDependent.newMpscQueue();
    private boolean sweepScheduled;
    private volatile boolean handedOver;

    private LoopDeadlines(EventLoop eventLoop) {
      this.eventLoop = eventLoop;
      for (int i = 0; i < LENGTHS; i++) {
        lanes[i] = new Lane();
      }
      // A loop's scheduled tasks are dropped when it shuts down: what it still holds then goes to
      // the wheel, for the time left, once its thread has ended.
      eventLoop.terminationFuture().addListener(ended -> handOver());
    }

    /** The deadlines of this thread's event loop; null off a loop, or on one shutting down. */
    static @Nullable LoopDeadlines current() {
      if (!(Thread.currentThread() instanceof FastThreadLocalThread)) {
        return null;
      }
      LoopDeadlines here = CURRENT.get();
      return here == null || here.eventLoop.isShuttingDown() ? null : here;
    }

    /**
     * Files a deadline {@code nanos} from now; on the loop's thread only.
     *
     * @return false if the loop keeps {@value #LENGTHS} other lengths already
     */
    boolean add(BoundedSubscriber<?> armed, long nanos) {
      Lane lane = lane(nanos);
      if (lane == null) {
        return false;
      }
      armed.deadline = System.nanoTime() + nanos;
      armed.lane = lane;
      BoundedSubscriber<?> tail = lane.tail;
      armed.previous = tail;
      if (tail == null) {
        lane.head = armed;
      } else {
        tail.next = armed;
      }
      lane.tail = armed;
      if (!sweepScheduled) {
        sweepScheduled = true;
        eventLoop.schedule(this, TICK_MILLIS, TimeUnit.MILLISECONDS);
      }
      return true;
    }

    /** Takes out a deadline that ended: at once on the loop's thread, at its next sweep if not. */
    void remove(BoundedSubscriber<?> ended) {
      if (eventLoop.inEventLoop()) {
        unlink(ended);
      } else if (!handedOver) {
        removed.offer(ended);
      }
    }

    /** The sweep: takes out what other threads ended, fires what passed. */
    @Override
    public void run() {
      try {
        for (BoundedSubscriber<?> ended; (ended = removed.poll()) != null; ) {
          unlink(ended);
        }
        long now = System.nanoTime();
        for (Lane lane : lanes) {
          for (BoundedSubscriber<?> first; (first = lane.head) != null; ) {
            if (first.deadline - now > 0) {
              break;
            }
            unlink(first);
            first.run(null);
          }
        }
      } finally {
        // Again while anything is held, including what the deadlines' subscribers armed.
        boolean holding = !removed.isEmpty();
        for (Lane lane : lanes) {
          holding |= lane.head != null;
        }
        if (holding) {
          eventLoop.schedule(this, TICK_MILLIS, TimeUnit.MILLISECONDS);
        } else {
          sweepScheduled = false;
        }
      }
    }

    /** Deadlines held now; on the loop's thread, for tests. */
    int held() {
      int held = 0;
      for (Lane lane : lanes) {
        for (BoundedSubscriber<?> armed = lane.head; armed != null; armed = armed.next) {
          held++;
        }
      }
      return held;
    }

    private @Nullable Lane lane(long nanos) {
      Lane empty = null;
      for (Lane lane : lanes) {
        if (lane.nanos == nanos) {
          return lane;
        }
        if (empty == null && lane.head == null) {
          empty = lane;
        }
      }
      if (empty != null) {
        empty.nanos = nanos;
      }
      return empty;
    }

    private static void unlink(BoundedSubscriber<?> armed) {
      Lane lane = armed.lane;
      if (lane == null) {
        return; // fired, or taken out already
      }
      BoundedSubscriber<?> previous = armed.previous;
      BoundedSubscriber<?> next = armed.next;
      if (previous == null) {
        lane.head = next;
      } else {
        previous.next = next;
      }
      if (next == null) {
        lane.tail = previous;
      } else {
        next.previous = previous;
      }
      armed.lane = null;
      armed.previous = null;
      armed.next = null;
    }

    /** After the loop's thread ended: each deadline still waiting goes to the wheel. */
    private void handOver() {
      handedOver = true;
      for (Lane lane : lanes) {
        for (BoundedSubscriber<?> first; (first = lane.head) != null; ) {
          unlink(first);
          if (first.running()) {
            first.armOnWheel(first.deadline - System.nanoTime());
          }
        }
      }
    }

    /** The deadlines of one length, first to expire at the head. */
    static final class Lane {
      long nanos;
      @Nullable BoundedSubscriber<?> head;
      @Nullable BoundedSubscriber<?> tail;
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

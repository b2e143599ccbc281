package io.skymesh.benchmarks;

import java.time.Duration;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.core.publisher.MonoSink;

/**
 * The benchmarks' driver of concurrent calls: a number of loops, each starting its next call when
 * its last one has ended, the same for every system compared. It does per call what {@code
 * Flux.range(0, count).flatMap(i -> call, concurrency)} does, without its cost: that operator scans
 * its inner subscribers on every completion, which at 256 in flight took over a third of the
 * calling event loop in the profiles (benchmarks/README.md, "A cheaper driver"), the same fixed
 * cost on every side, which pulled every ratio towards 1.
 *
 * <p>Starting a call happens on the thread that ended the previous one (an event loop, mostly);
 * starts are trampolined, so a call that ends inside its own subscription does not recurse.
 *
 * <p>{@link #steady} keeps the calls going across a throughput benchmark's invocations: each
 * invocation waits for the next so many calls to end ({@link #awaitEnded}) while every loop goes
 * on, so the load never falls below {@code concurrency} between invocations.
 */
final class CallLoops {

  private final Supplier<? extends Mono<?>> call;
  private final long count;
  private final MonoSink<Long> done; // null for a steady run
  private final AtomicInteger wip = new AtomicInteger();
  private final AtomicInteger toStart = new AtomicInteger();
  private final AtomicLong ended = new AtomicLong();
  private volatile boolean stopped;

  /** Written only by the trampoline (whoever holds {@code wip}); read by {@link #stopAndDrain}. */
  private final AtomicLong started = new AtomicLong();

  // A steady run's waiter: the thread in awaitEnded or stopAndDrain, and the count of ended calls
  // at which the loops wake it (Long.MAX_VALUE when none waits; whoever swaps it out wakes it).
  private final AtomicLong wakeAt = new AtomicLong(Long.MAX_VALUE);
  private volatile Thread waiter;
  private volatile Throwable failure;

  private CallLoops(Supplier<? extends Mono<?>> call, long count, MonoSink<Long> done) {
    this.call = call;
    this.count = count;
    this.done = done;
  }

  /**
   * Makes {@code count} calls, at most {@code concurrency} outstanding.
   *
   * @return completes with {@code count} when the last has ended, or fails with the first failure
   */
  static Mono<Long> run(long count, int concurrency, Supplier<? extends Mono<?>> call) {
    return Mono.create(
        sink -> {
          CallLoops loops = new CallLoops(call, count, sink);
          sink.onDispose(loops::stop);
          loops.start((int) Math.min(concurrency, count));
        });
  }

  /**
   * Keeps {@code concurrency} calls outstanding until disposed; a failure stops every loop and goes
   * to {@code onError}.
   */
  static Disposable forever(
      int concurrency, Supplier<? extends Mono<?>> call, Consumer<Throwable> onError) {
    return run(Long.MAX_VALUE, concurrency, call).subscribe(null, onError);
  }

  /**
   * Starts {@code concurrency} loops that go on until {@link #stopAndDrain}: the driver of a
   * throughput benchmark whose invocations each wait for the next calls with {@link #awaitEnded}.
   * The calls must end on another thread (over a connection): calls that all end inside their
   * subscription would keep the calling thread starting the next ones, never returning.
   */
  static CallLoops steady(int concurrency, Supplier<? extends Mono<?>> call) {
    CallLoops loops = new CallLoops(call, Long.MAX_VALUE, null);
    loops.start(concurrency);
    return loops;
  }

  /**
   * Waits until {@code total} calls have ended since {@link #steady} started the loops.
   *
   * @throws IllegalStateException if a call failed (the loops have stopped) or {@code timeout}
   *     passed first
   */
  void awaitEnded(long total, Duration timeout) {
    waitFor(total, false, timeout);
  }

  /**
   * Starts no more calls and waits until every call started has ended, so that none is left to end
   * during whatever runs next.
   *
   * @throws IllegalStateException if {@code timeout} passed first
   */
  void stopAndDrain(Duration timeout) {
    stopped = true;
    waitFor(Long.MAX_VALUE, true, timeout);
  }

  private void waitFor(long total, boolean drain, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    waiter = Thread.currentThread();
    try {
      while (true) {
        // A drain waits for every call started. With stopped set before it reads wip, a start that
        // begins later sees stopped and starts nothing; one under way (wip held) is waited out.
        boolean starting = drain && wip.get() != 0;
        long target = drain ? started.get() : total;
        if (!starting && ended.get() >= target) {
          return;
        }
        Throwable failed = failure;
        if (failed != null && !drain) {
          throw new IllegalStateException("a call failed", failed);
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new IllegalStateException(
              new TimeoutException(
                  (drain ? "draining: " : "waiting for " + total + " calls: ")
                      + ended.get()
                      + " of "
                      + started.get()
                      + " started have ended in "
                      + timeout));
        }
        if (starting) {
          Thread.onSpinWait(); // a start takes microseconds, and nothing would wake a parked drain
          continue;
        }
        wakeAt.set(target);
        if (ended.get() < target) {
          LockSupport.parkNanos(this, left);
        }
      }
    } finally {
      wakeAt.set(Long.MAX_VALUE);
      waiter = null;
    }
  }

  private void wakeWaiter(long total) {
    long at = wakeAt.get();
    if (total >= at && wakeAt.compareAndSet(at, Long.MAX_VALUE)) {
      LockSupport.unpark(waiter);
    }
  }

  private void stop() {
    stopped = true;
  }

  private void start(int calls) {
    toStart.addAndGet(calls);
    if (wip.getAndIncrement() != 0) {
      return;
    }
    do {
      while (toStart.get() > 0) {
        toStart.decrementAndGet();
        long startedSoFar = started.get();
        if (stopped || startedSoFar >= count) {
          continue;
        }
        started.lazySet(startedSoFar + 1);
        call.get().subscribe(new Loop());
      }
    } while (wip.decrementAndGet() != 0);
  }

  private void ended() {
    long total = ended.incrementAndGet();
    if (total == count && done != null) {
      done.success(total);
    } else {
      start(1);
      wakeWaiter(total);
    }
  }

  /** The subscriber of one call. */
  private final class Loop implements CoreSubscriber<Object> {

    @Override
    public void onSubscribe(Subscription subscription) {
      subscription.request(Long.MAX_VALUE);
    }

    @Override
    public void onNext(Object value) {}

    @Override
    public void onError(Throwable error) {
      stopped = true;
      failure = error;
      ended.incrementAndGet(); // so that a drain does not wait for it
      if (done != null) {
        done.error(error);
      }
      LockSupport.unpark(waiter);
    }

    @Override
    public void onComplete() {
      ended();
    }
  }
}

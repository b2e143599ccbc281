package io.skymesh.mesh.internal.rpc;

import io.skymesh.core.exceptions.OverloadedException;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.function.Supplier;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Operators;
import reactor.util.context.Context;

/**
 * Caps the requests in flight to one peer process: up to {@code maxInFlight} run, up to {@code
 * maxPending} more wait in a queue, in order, and any beyond fail at once with {@link
 * OverloadedException}. A waiting request that is cancelled (its caller gave up, its deadline
 * passed) leaves the queue at once, so the queue never holds more than {@code maxPending} entries.
 *
 * <p>Lock-free: counters and a multi-producer queue, drained by whichever thread wins the
 * work-in-progress counter.
 */
public final class PeerLimiter {

  private final String peer;
  private final int maxInFlight;
  private final int maxPending;
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicInteger pending = new AtomicInteger();
  private final AtomicInteger wip = new AtomicInteger();
  private final Queue<Waiter<?>> queue = new ConcurrentLinkedQueue<>();

  /**
   * Creates a limiter.
   *
   * @param peer the peer, for messages
   * @param maxInFlight calls running at once, at least 1
   * @param maxPending calls waiting, at least 0
   */
  public PeerLimiter(String peer, int maxInFlight, int maxPending) {
    this.peer = peer;
    this.maxInFlight = maxInFlight;
    this.maxPending = maxPending;
  }

  /**
   * Runs a call under the cap. Lazy: each subscription is one call; cancelling it withdraws a
   * waiting call or cancels a running one.
   *
   * @param call makes the call once there is room
   * @param <T> the call's value
   * @return the call's outcome, or {@link OverloadedException} if the queue is full
   */
  public <T> Mono<T> run(Supplier<Mono<T>> call) {
    return new Limited<>(call);
  }

  /** Calls running now; an instant reading. */
  public int inFlight() {
    return inFlight.get();
  }

  /** Calls waiting now; an instant reading. */
  public int pending() {
    return pending.get();
  }

  /** Counts one more waiting call if there is room: the count never reads above its cap. */
  private boolean tryEnqueue() {
    for (; ; ) {
      int current = pending.get();
      if (current >= maxPending) {
        return false;
      }
      if (pending.compareAndSet(current, current + 1)) {
        return true;
      }
    }
  }

  private boolean tryAcquire() {
    for (; ; ) {
      int current = inFlight.get();
      if (current >= maxInFlight) {
        return false;
      }
      if (inFlight.compareAndSet(current, current + 1)) {
        return true;
      }
    }
  }

  private void release() {
    inFlight.decrementAndGet();
    drain();
  }

  private void drain() {
    if (wip.getAndIncrement() != 0) {
      return;
    }
    int missed = 1;
    do {
      while (!queue.isEmpty() && tryAcquire()) {
        Waiter<?> next = queue.poll();
        if (next == null) {
          inFlight.decrementAndGet();
          continue;
        }
        // Polled here, so its cancel (if any) could not remove it: the count is ours to fix.
        pending.decrementAndGet();
        if (next.claim()) {
          next.start();
        } else {
          inFlight.decrementAndGet();
        }
      }
      missed = wip.addAndGet(-missed);
    } while (missed != 0);
  }

  private OverloadedException overloaded() {
    return new OverloadedException(
        peer
            + ": "
            + maxInFlight
            + " requests in flight and "
            + maxPending
            + " waiting (maxRequestsInFlightPerPeer, maxPendingRequestsPerPeer)");
  }

  /** One call under the cap per subscription. */
  private final class Limited<T> extends Mono<T> {
    private final Supplier<Mono<T>> call;

    Limited(Supplier<Mono<T>> call) {
      this.call = call;
    }

    @Override
    public void subscribe(CoreSubscriber<? super T> actual) {
      Waiter<T> waiter = new Waiter<>(actual, call);
      actual.onSubscribe(waiter);
      if (tryAcquire()) {
        if (waiter.claim()) {
          waiter.start();
        } else {
          release();
        }
        return;
      }
      if (!tryEnqueue()) {
        if (waiter.claim()) {
          waiter.refuse(overloaded());
        }
        return;
      }
      queue.offer(waiter);
      drain();
    }
  }

  /**
   * One call: the subscription its caller holds while it waits for a slot, then the subscriber of
   * the call itself, relaying its outcome. One object per call, where {@code Mono.create} with a
   * waiter, a {@code doOnCancel} and a lambda subscriber took five (measured in {@code
   * RequestResponseBenchmark} with {@code -prof gc}).
   */
  private final class Waiter<T> extends Operators.DeferredSubscription
      implements CoreSubscriber<T> {

    private static final int WAITING = 0;
    private static final int STARTED = 1;
    private static final int CANCELLED = 2;

    @SuppressWarnings(
        "rawtypes") // a field updater is made from the class, not a parameterized type
    private static final AtomicIntegerFieldUpdater<Waiter> STATE =
        AtomicIntegerFieldUpdater.newUpdater(Waiter.class, "state");

    @SuppressWarnings("rawtypes")
    private static final AtomicIntegerFieldUpdater<Waiter> RELEASED =
        AtomicIntegerFieldUpdater.newUpdater(Waiter.class, "released");

    private final CoreSubscriber<? super T> actual;
    private final Supplier<Mono<T>> call;
    private volatile int state;
    private volatile int released;

    Waiter(CoreSubscriber<? super T> actual, Supplier<Mono<T>> call) {
      this.actual = actual;
      this.call = call;
    }

    boolean claim() {
      return STATE.compareAndSet(this, WAITING, STARTED);
    }

    /** Runs the call in the slot this waiter holds. */
    void start() {
      Mono<T> mono;
      try {
        mono = call.get();
      } catch (RuntimeException e) {
        releaseOnce();
        actual.onError(e);
        return;
      }
      mono.subscribe(this);
    }

    /** Fails a claimed waiter that never got a slot. */
    void refuse(Throwable error) {
      RELEASED.set(this, 1);
      actual.onError(error);
    }

    @Override
    public Context currentContext() {
      return actual.currentContext();
    }

    @Override
    public void onSubscribe(Subscription s) {
      set(s);
    }

    // The slot is freed before the outcome reaches the caller, so a caller that has its reply
    // never sees its own call still counted in flight.

    @Override
    public void onNext(T value) {
      releaseOnce();
      actual.onNext(value);
    }

    @Override
    public void onError(Throwable error) {
      releaseOnce();
      actual.onError(error);
    }

    @Override
    public void onComplete() {
      releaseOnce();
      actual.onComplete();
    }

    @Override
    public void cancel() {
      if (STATE.compareAndSet(this, WAITING, CANCELLED)) {
        if (queue.remove(this)) {
          pending.decrementAndGet();
        }
        return;
      }
      if (STATE.compareAndSet(this, STARTED, CANCELLED)) {
        super.cancel();
        releaseOnce();
      }
    }

    private void releaseOnce() {
      if (RELEASED.compareAndSet(this, 0, 1)) {
        release();
      }
    }
  }
}

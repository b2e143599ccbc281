package io.skymesh.mesh.internal.rpc;

import io.skymesh.core.exceptions.OverloadedException;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.core.publisher.MonoSink;

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
    return Mono.create(
        sink -> {
          Waiter<T> waiter = new Waiter<>(sink, call);
          sink.onCancel(waiter::cancel);
          if (tryAcquire()) {
            if (waiter.claim()) {
              waiter.start();
            } else {
              release();
            }
            return;
          }
          if (!tryEnqueue()) {
            waiter.claim();
            sink.error(
                new OverloadedException(
                    peer
                        + ": "
                        + maxInFlight
                        + " requests in flight and "
                        + maxPending
                        + " waiting (maxRequestsInFlightPerPeer, maxPendingRequestsPerPeer)"));
            return;
          }
          queue.offer(waiter);
          drain();
        });
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

  private final class Waiter<T> {

    private static final int WAITING = 0;
    private static final int STARTED = 1;
    private static final int CANCELLED = 2;

    private final MonoSink<T> sink;
    private final Supplier<Mono<T>> call;
    private final AtomicInteger state = new AtomicInteger(WAITING);
    private final AtomicBoolean released = new AtomicBoolean();
    private volatile Disposable running;

    Waiter(MonoSink<T> sink, Supplier<Mono<T>> call) {
      this.sink = sink;
      this.call = call;
    }

    boolean claim() {
      return state.compareAndSet(WAITING, STARTED);
    }

    void start() {
      Mono<T> mono;
      try {
        mono = call.get();
      } catch (RuntimeException e) {
        release();
        sink.error(e);
        return;
      }
      // The slot is freed before the outcome reaches the caller, so a caller that has its reply
      // never sees its own call still counted in flight.
      running =
          mono.doOnCancel(this::releaseOnce)
              .subscribe(
                  value -> {
                    releaseOnce();
                    sink.success(value);
                  },
                  error -> {
                    releaseOnce();
                    sink.error(error);
                  },
                  () -> {
                    releaseOnce();
                    sink.success();
                  });
      if (state.get() == CANCELLED) {
        running.dispose();
      }
    }

    private void releaseOnce() {
      if (released.compareAndSet(false, true)) {
        release();
      }
    }

    void cancel() {
      if (state.compareAndSet(WAITING, CANCELLED)) {
        if (queue.remove(this)) {
          pending.decrementAndGet();
        }
        return;
      }
      if (state.compareAndSet(STARTED, CANCELLED)) {
        Disposable current = running;
        if (current != null) {
          current.dispose();
        }
      }
    }
  }
}

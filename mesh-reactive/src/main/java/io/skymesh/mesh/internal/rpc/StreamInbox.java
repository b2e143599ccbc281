package io.skymesh.mesh.internal.rpc;

import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;
import reactor.core.publisher.Flux;
import reactor.core.publisher.FluxSink;
import reactor.core.publisher.Operators;

/**
 * The receiving half of one direction of a stream: a {@code Flux} whose subscriber's demand becomes
 * credit granted to the sender, and the check that the sender keeps within it.
 *
 * <p>The subscriber sees the items through {@code limitRate(window)}: it asks this inbox for one
 * window, then for three quarters of a window each time that many were consumed, so credit travels
 * in batches and at most one window of items is ever in flight or queued here, whatever the
 * subscriber's own demand.
 *
 * <p>Credit is granted before any frame announcing it is sent, so an item that arrives beyond
 * {@link #granted} broke the protocol. Items and the end arrive on the connection's event loop;
 * demand and cancellation come from any thread.
 *
 * @param <T> the items
 */
final class StreamInbox<T> {

  private final int window;
  private final LongConsumer sendCredit;
  private final Runnable onCancel;
  private final Runnable onSubscribe;
  private final AtomicLong requested = new AtomicLong();
  private final AtomicLong granted = new AtomicLong();
  private final AtomicBoolean subscribed = new AtomicBoolean();
  private volatile boolean creditOpen;
  private long received;

  // Items (at most the implicit credit) and the end that arrive before the subscriber does; once
  // the sink is set, items go to it without the lock.
  private volatile FluxSink<T> sink;
  private ArrayDeque<T> early;
  private boolean ended;
  private Throwable endError;

  /**
   * Creates an inbox.
   *
   * @param window the most items in flight
   * @param implicitCredit the items the sender may send without a grant (the first request that
   *     travels with a channel's open)
   * @param sendCredit sends a grant of more items
   * @param onCancel called once if the subscriber cancels before the end
   * @param onSubscribe called once the subscriber has made its first request
   */
  StreamInbox(
      int window,
      long implicitCredit,
      LongConsumer sendCredit,
      Runnable onCancel,
      Runnable onSubscribe) {
    this.window = window;
    this.sendCredit = sendCredit;
    this.onCancel = onCancel;
    this.onSubscribe = onSubscribe;
    granted.set(implicitCredit);
  }

  /** The items; one subscriber only. */
  Flux<T> flux() {
    return Flux.<T>create(this::attach, FluxSink.OverflowStrategy.BUFFER).limitRate(window);
  }

  /** Takes the demand not yet granted as credit: the initial credit of an open, or a grant. */
  long takeUngranted() {
    long r = requested.get();
    for (; ; ) {
      long g = granted.get();
      if (r <= g) {
        return 0;
      }
      if (granted.compareAndSet(g, r)) {
        return r - g;
      }
    }
  }

  /** Lets later grants go on the wire as credit frames, and sends what accumulated. */
  void startCredit() {
    creditOpen = true;
    flushCredit();
  }

  /**
   * Takes one item from the sender.
   *
   * @return false if it was beyond the credit (the item is not delivered)
   */
  boolean offer(T item) {
    if (++received > granted.get()) {
      return false;
    }
    FluxSink<T> target = sink;
    if (target != null) {
      target.next(item);
      return true;
    }
    synchronized (this) {
      target = sink;
      if (target == null) {
        if (early == null) {
          early = new ArrayDeque<>(2);
        }
        early.add(item);
        return true;
      }
    }
    target.next(item);
    return true;
  }

  /**
   * The sender's items ended.
   *
   * @param error null when they completed
   */
  void end(Throwable error) {
    FluxSink<T> target;
    synchronized (this) {
      if (ended) {
        return;
      }
      ended = true;
      endError = error;
      target = sink;
    }
    if (target != null) {
      terminate(target, error);
    }
  }

  /** Items received so far; read on the event loop. */
  long received() {
    return received;
  }

  private void attach(FluxSink<T> target) {
    if (!subscribed.compareAndSet(false, true)) {
      target.error(new IllegalStateException("a stream's items can be subscribed to once"));
      return;
    }
    target.onCancel(
        () -> {
          boolean wasEnded;
          synchronized (this) {
            wasEnded = ended;
            ended = true;
          }
          if (!wasEnded) {
            onCancel.run();
          }
        });
    target.onRequest(this::request);
    ArrayDeque<T> before;
    boolean endedBefore;
    Throwable error;
    synchronized (this) {
      before = early;
      early = null;
      endedBefore = ended;
      error = endError;
      sink = target;
    }
    if (before != null) {
      before.forEach(target::next);
    }
    if (endedBefore) {
      terminate(target, error);
    } else {
      onSubscribe.run();
    }
  }

  private void request(long n) {
    requested.accumulateAndGet(n, Operators::addCap);
    if (creditOpen) {
      flushCredit();
    }
  }

  private void flushCredit() {
    long grant = takeUngranted();
    if (grant > 0) {
      sendCredit.accept(grant);
    }
  }

  private static <T> void terminate(FluxSink<T> target, Throwable error) {
    if (error == null) {
      target.complete();
    } else {
      target.error(error);
    }
  }
}

package io.skymesh.mesh.internal.peer;

import io.skymesh.core.exceptions.SkymeshException;
import io.skymesh.core.exceptions.Statuses;
import io.skymesh.mesh.Message;
import io.skymesh.mesh.internal.transport.PeerConnection;
import io.skymesh.mesh.internal.transport.PooledPayload;
import io.skymesh.proto.Status;
import io.skymesh.proto.StatusCode;
import java.util.ArrayDeque;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.reactivestreams.Subscription;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Mono;
import reactor.core.publisher.MonoSink;
import reactor.core.publisher.Sinks;

/**
 * The messages of one connection for one service of this process: its handler is called for them
 * one at a time, in arrival order, on the connection's event loop, while the connection goes on
 * reading frames for other services. A slow handler therefore fills only its own queue. When that
 * queue is full, the connection is held (TCP slows every sender on it) for at most {@code hold};
 * after that, this service's further messages are refused with {@code RESOURCE_EXHAUSTED} reports
 * until its queue has drained to half, so one stalled handler cannot stop the other services
 * sharing the connection.
 *
 * <p>With pooled payloads, a message may come with the pooled array its payload is a view of (its
 * lease): the lane releases it once the message is finished, whichever way that is (handled,
 * failed, refused, dropped with its hold, or abandoned with its event loop), so the payload stays
 * valid until the handler's {@code Mono} has ended.
 *
 * <p>Event loop only, except the completion of a handler's {@code Mono}, which hops back.
 */
final class InboundLane {

  private static final Logger log = LoggerFactory.getLogger(InboundLane.class);

  /** Pings waiting for this lane at most; one per ping interval accrue behind a stalled handler. */
  private static final int MAX_WAITERS = 64;

  private final DataPlane plane;
  private final PeerConnection connection;
  private final LocalService service;
  private final ScheduledExecutorService loop;
  private final int capacity;
  private final long holdNanos;
  private final ArrayDeque<Delivery> queue = new ArrayDeque<>();

  private boolean running;
  private boolean overflowing;

  /** Messages taken (run, queued or held) and messages finished (handled, failed or refused). */
  private long accepted;

  private long finished;
  private final ArrayDeque<Waiter> waiters = new ArrayDeque<>();
  private MonoSink<Void> held;
  private Delivery heldDelivery;
  private ScheduledFuture<?> holdTimer;

  InboundLane(
      DataPlane plane,
      PeerConnection connection,
      LocalService service,
      int capacity,
      long holdNanos) {
    this.plane = plane;
    this.connection = connection;
    this.service = service;
    this.loop = connection.executor();
    this.capacity = capacity;
    this.holdNanos = holdNanos;
  }

  LocalService service() {
    return service;
  }

  /**
   * Takes a message that arrived on the connection, and with it the lease of its payload's pooled
   * array, if any.
   *
   * @param message the message
   * @param lease the pooled array its payload is a view of, or null when the payload has an array
   *     of its own
   * @return completes when the connection may read its next frame: at once, unless this lane's
   *     queue is full
   */
  Mono<Void> offer(Message message, @Nullable PooledPayload lease) {
    if (!running && queue.isEmpty()) {
      accepted++;
      run(message, lease, null);
      return Mono.empty();
    }
    if (overflowing) {
      release(lease);
      return refuse(message);
    }
    accepted++;
    Delivery delivery = new Delivery(message, lease);
    if (queue.size() < capacity) {
      queue.add(delivery);
      return Mono.empty();
    }
    return Mono.create(sink -> hold(sink, delivery));
  }

  /**
   * Completes once every message taken so far has been handled: a {@code Ping}'s {@code Pong} waits
   * for it, so that a backlog still measures slow and a graceful close still drains.
   */
  Mono<Void> handled() {
    if (finished == accepted) {
      return Mono.empty();
    }
    if (waiters.size() >= MAX_WAITERS) {
      // A handler stalled for good: its pinger gave up on the oldest answers long ago.
      waiters.poll().done().tryEmitEmpty();
    }
    Sinks.Empty<Void> done = Sinks.empty();
    waiters.add(new Waiter(accepted, done));
    return done.asMono();
  }

  /** One more message finished: wakes the waiters it was the last of. */
  private void finished() {
    finished++;
    while (!waiters.isEmpty() && waiters.peek().target() <= finished) {
      waiters.poll().done().tryEmitEmpty();
    }
  }

  /**
   * Calls the handler; true if its {@code Mono} is still running (the lane waits for it).
   *
   * @param delivery the message's queue entry, reused to wait for the handler, or null if it was
   *     not queued
   */
  private boolean run(Message message, @Nullable PooledPayload lease, @Nullable Delivery delivery) {
    Mono<Void> handled = service.deliver(message);
    if (handled == Mono.<Void>empty()) {
      release(lease);
      finished();
      return false;
    }
    Delivery waiting = delivery != null ? delivery : new Delivery(message, lease);
    running = true;
    waiting.subscribingOn = Thread.currentThread();
    handled.subscribe(waiting);
    waiting.subscribingOn = null;
    if (waiting.doneInline) {
      running = false;
      release(lease);
      finished();
      return false;
    }
    return true;
  }

  /** The running handler finished: the next queued message, and the held one if any. */
  private void next(Delivery done) {
    running = false;
    release(done.lease);
    finished();
    for (; ; ) {
      if (held != null && queue.size() < capacity) {
        unhold();
      }
      Delivery delivery = queue.poll();
      if (delivery == null || run(delivery.message, delivery.lease, delivery)) {
        break;
      }
    }
    if (overflowing && queue.size() <= capacity / 2) {
      overflowing = false;
    }
  }

  private void hold(MonoSink<Void> sink, Delivery delivery) {
    held = sink;
    heldDelivery = delivery;
    holdTimer = loop.schedule(this::holdExpired, holdNanos, TimeUnit.NANOSECONDS);
    sink.onCancel(
        () ->
            execute(
                () -> {
                  if (held == sink) {
                    // Dropped with its hold: counted as finished, so that no Pong waits for it.
                    release(delivery.lease);
                    clearHeld();
                    finished();
                  }
                }));
  }

  /** Room again: the held message joins the queue and the connection reads on. */
  private void unhold() {
    MonoSink<Void> sink = held;
    queue.add(heldDelivery);
    clearHeld();
    sink.success();
  }

  /** Held too long: refuse this message and the next ones until the queue has drained. */
  private void holdExpired() {
    MonoSink<Void> sink = held;
    if (sink == null) {
      return;
    }
    Delivery delivery = heldDelivery;
    clearHeld();
    overflowing = true;
    release(delivery.lease);
    finished();
    log.warn(
        "{} has {} messages waiting from {}; refusing more until it drains",
        service.url(),
        queue.size(),
        connection);
    refuse(delivery.message).subscribe(null, null, sink::success);
  }

  private void clearHeld() {
    held = null;
    heldDelivery = null;
    if (holdTimer != null) {
      holdTimer.cancel(false);
      holdTimer = null;
    }
  }

  private Mono<Void> refuse(Message message) {
    return plane.report(
        connection,
        message.source().toString(),
        message.destination().toString(),
        "",
        StatusCode.RESOURCE_EXHAUSTED,
        service.url() + " is behind: " + capacity + " messages from this process wait for it");
  }

  private void failed(Message message, Throwable error) {
    if (error instanceof SkymeshException typed) {
      // Expected and typed (the service closed meanwhile, say): the message says it all.
      log.warn(
          "A message from {} to {} was not handled: {}",
          message.source(),
          service.url(),
          typed.toString());
    } else {
      log.warn("Handler of {} failed on a message from {}", service.url(), message.source(), error);
    }
    Status status = Statuses.toStatus(error);
    plane
        .report(
            connection,
            message.source().toString(),
            message.destination().toString(),
            "",
            status.getCode(),
            status.getMessage())
        .subscribe();
  }

  /**
   * The event loop is gone, and the connection with it, while a handler ran: its failure, if it
   * failed, and the messages queued or held behind it can no longer be reported to their sender,
   * and those messages will never be handled. Their leases are released, so that the collector does
   * not report them as leaks, and they are counted as dropped with their reports lost. Runs on the
   * thread that ended the handler's {@code Mono}; with the loop gone, nothing else touches the
   * lane.
   *
   * @param running the handler's message
   * @param failure how the handler failed, or null if it completed
   */
  private void abandon(Delivery running, @Nullable Throwable failure) {
    release(running.lease);
    if (failure != null) {
      Status status = Statuses.toStatus(failure);
      plane.unreported(connection, service.url(), status.getCode(), 1, status.getMessage());
    }
    int lost = 0;
    for (Delivery delivery = queue.poll(); delivery != null; delivery = queue.poll()) {
      release(delivery.lease);
      lost++;
    }
    if (heldDelivery != null) {
      release(heldDelivery.lease);
      held = null;
      heldDelivery = null;
      lost++;
    }
    if (lost > 0) {
      plane.unreported(
          connection, service.url(), StatusCode.UNAVAILABLE, lost, "the event loop is gone");
    }
  }

  private static void release(@Nullable PooledPayload lease) {
    if (lease != null) {
      lease.release();
    }
  }

  /** Runs a task on the event loop; false if the loop is gone (and the connection with it). */
  private boolean execute(Runnable task) {
    try {
      loop.execute(task);
      return true;
    } catch (RejectedExecutionException e) {
      return false;
    }
  }

  /** A {@code Ping} waiting for the messages taken before it to be handled. */
  private record Waiter(long target, Sinks.Empty<Void> done) {}

  /**
   * A message with its payload's lease, queued or running: waits for its handler's {@code Mono},
   * then goes on with the lane on the event loop.
   */
  private final class Delivery implements CoreSubscriber<Void>, Runnable {

    final Message message;
    final @Nullable PooledPayload lease;

    /**
     * The event loop's thread while it is inside the handler's {@code subscribe}, else null. Only a
     * signal on that thread, then, ends the message inline: a signal on another thread cannot tell
     * whether the loop has already looked at {@link #doneInline}, so it always hops back to the
     * loop. Another thread may read a stale value here, but only null or the loop's thread, never
     * its own.
     */
    @Nullable Thread subscribingOn;

    /** The handler's {@code Mono} ended inside its {@code subscribe}; the event loop only. */
    boolean doneInline;

    Delivery(Message message, @Nullable PooledPayload lease) {
      this.message = message;
      this.lease = lease;
    }

    @Override
    public void onSubscribe(Subscription s) {
      s.request(Long.MAX_VALUE);
    }

    @Override
    public void onNext(Void unused) {
      // Mono<Void> carries no value.
    }

    @Override
    public void onError(Throwable t) {
      if (subscribingOn == Thread.currentThread()) {
        failed(message, t);
        doneInline = true;
        return;
      }
      resume(
          () -> {
            failed(message, t);
            next(this);
          },
          t);
    }

    @Override
    public void onComplete() {
      if (subscribingOn == Thread.currentThread()) {
        doneInline = true;
        return;
      }
      resume(this, null);
    }

    /** The handler's {@code Mono} completed on another thread: the lane goes on, on the loop. */
    @Override
    public void run() {
      next(this);
    }

    /** Goes on with the lane on the event loop, or abandons it if the loop is gone. */
    private void resume(Runnable task, @Nullable Throwable failure) {
      if (!execute(task)) {
        abandon(this, failure);
      }
    }
  }
}

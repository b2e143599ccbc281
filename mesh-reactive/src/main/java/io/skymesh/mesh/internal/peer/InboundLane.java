package io.skymesh.mesh.internal.peer;

import io.skymesh.core.exceptions.SkymeshException;
import io.skymesh.core.exceptions.Statuses;
import io.skymesh.mesh.Message;
import io.skymesh.mesh.internal.transport.PeerConnection;
import io.skymesh.proto.Status;
import io.skymesh.proto.StatusCode;
import java.util.ArrayDeque;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
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
  private final ArrayDeque<Message> queue = new ArrayDeque<>();
  private final Runnable next = this::next;

  private boolean running;
  private boolean overflowing;

  /** Messages taken (run, queued or held) and messages finished (handled, failed or refused). */
  private long accepted;

  private long finished;
  private final ArrayDeque<Waiter> waiters = new ArrayDeque<>();
  private MonoSink<Void> held;
  private Message heldMessage;
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
   * Takes a message that arrived on the connection.
   *
   * @return completes when the connection may read its next frame: at once, unless this lane's
   *     queue is full
   */
  Mono<Void> offer(Message message) {
    if (!running && queue.isEmpty()) {
      accepted++;
      run(message);
      return Mono.empty();
    }
    if (overflowing) {
      return refuse(message);
    }
    accepted++;
    if (queue.size() < capacity) {
      queue.add(message);
      return Mono.empty();
    }
    return Mono.create(sink -> hold(sink, message));
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

  /** Calls the handler; true if its {@code Mono} is still running (the lane waits for it). */
  private boolean run(Message message) {
    Mono<Void> handled = service.deliver(message);
    if (handled == Mono.<Void>empty()) {
      finished();
      return false;
    }
    Completion completion = new Completion(message);
    running = true;
    completion.subscribing = true;
    handled.subscribe(completion);
    completion.subscribing = false;
    if (completion.doneInline) {
      running = false;
      finished();
      return false;
    }
    return true;
  }

  /** The running handler finished: the next queued message, and the held one if any. */
  private void next() {
    running = false;
    finished();
    for (; ; ) {
      if (held != null && queue.size() < capacity) {
        release();
      }
      Message message = queue.poll();
      if (message == null || run(message)) {
        break;
      }
    }
    if (overflowing && queue.size() <= capacity / 2) {
      overflowing = false;
    }
  }

  private void hold(MonoSink<Void> sink, Message message) {
    held = sink;
    heldMessage = message;
    holdTimer = loop.schedule(this::holdExpired, holdNanos, TimeUnit.NANOSECONDS);
    sink.onCancel(
        () ->
            execute(
                () -> {
                  if (held == sink) {
                    clearHeld();
                  }
                }));
  }

  /** Room again: the held message joins the queue and the connection reads on. */
  private void release() {
    MonoSink<Void> sink = held;
    queue.add(heldMessage);
    clearHeld();
    sink.success();
  }

  /** Held too long: refuse this message and the next ones until the queue has drained. */
  private void holdExpired() {
    MonoSink<Void> sink = held;
    if (sink == null) {
      return;
    }
    Message message = heldMessage;
    clearHeld();
    overflowing = true;
    finished();
    log.warn(
        "{} has {} messages waiting from {}; refusing more until it drains",
        service.url(),
        queue.size(),
        connection);
    refuse(message).subscribe(null, null, sink::success);
  }

  private void clearHeld() {
    held = null;
    heldMessage = null;
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

  private void execute(Runnable task) {
    try {
      loop.execute(task);
    } catch (RejectedExecutionException e) {
      // The event loop is gone, and the connection with it: nothing is left to deliver.
    }
  }

  /** Waits for one handler's {@code Mono}, then goes on with the lane on the event loop. */
  private record Waiter(long target, Sinks.Empty<Void> done) {}

  private final class Completion implements CoreSubscriber<Void> {

    private final Message message;
    boolean subscribing;
    boolean doneInline;

    Completion(Message message) {
      this.message = message;
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
      if (subscribing) {
        failed(message, t);
        doneInline = true;
        return;
      }
      execute(
          () -> {
            failed(message, t);
            next();
          });
    }

    @Override
    public void onComplete() {
      if (subscribing) {
        doneInline = true;
        return;
      }
      execute(next);
    }
  }
}

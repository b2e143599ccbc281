package io.skymesh.mesh.internal.peer;

import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.OverloadedException;
import io.skymesh.mesh.internal.transport.OutboundFrame;
import io.skymesh.mesh.internal.transport.PeerConnection;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import reactor.core.publisher.Mono;
import reactor.core.publisher.MonoSink;

/**
 * The ordered path to one destination instance. Sends are queued in the order they are subscribed
 * and handed to the connection in that order, even while the destination's address and connection
 * are still being resolved: without the lane, a send made after resolution could overtake earlier
 * sends still waiting for it.
 *
 * <p>Lock-free: a multi-producer queue drained by whichever thread wins the work-in-progress
 * counter, the usual Reactor drain loop.
 */
final class DestinationLane {

  private final ServiceUrl destination;
  private final Function<ServiceUrl, Mono<PeerConnection>> resolver;
  private final Runnable onFailure;
  private final Queue<Outgoing> queue = new ConcurrentLinkedQueue<>();
  private final AtomicInteger queued = new AtomicInteger();
  private final int maxQueued;
  private final AtomicInteger wip = new AtomicInteger();
  private final AtomicBoolean resolving = new AtomicBoolean();
  private volatile PeerConnection connection;

  /**
   * Creates a lane.
   *
   * @param destination the instance
   * @param resolver finds the instance's connection, failing typed if it is not alive
   * @param onFailure called when resolution fails, so the owner can forget the lane
   * @param maxQueued the most sends waiting here (while resolving) before more are refused
   */
  DestinationLane(
      ServiceUrl destination,
      Function<ServiceUrl, Mono<PeerConnection>> resolver,
      Runnable onFailure,
      int maxQueued) {
    this.destination = destination;
    this.maxQueued = maxQueued;
    this.resolver = resolver;
    this.onFailure = onFailure;
  }

  /**
   * Queues a frame; the {@code Mono} completes when the connection has written it, and fails at
   * once with {@code OverloadedException} if {@code maxQueued} sends wait here already.
   */
  Mono<Void> send(OutboundFrame frame) {
    return Mono.create(
        sink -> {
          if (queued.incrementAndGet() > maxQueued) {
            queued.decrementAndGet();
            sink.error(
                new OverloadedException(
                    "sends to "
                        + destination
                        + ": "
                        + maxQueued
                        + " wait for its connection already (maxPendingSends)"));
            return;
          }
          queue.offer(new Outgoing(frame, sink));
          drain();
        });
  }

  private Outgoing poll() {
    Outgoing next = queue.poll();
    if (next != null) {
      queued.decrementAndGet();
    }
    return next;
  }

  private void drain() {
    if (wip.getAndIncrement() != 0) {
      return;
    }
    int missed = 1;
    do {
      PeerConnection current = connection;
      if (current != null && !current.isOpen()) {
        connection = null;
        current = null;
      }
      if (current == null) {
        if (!queue.isEmpty()) {
          resolve();
        }
      } else {
        for (Outgoing next; (next = poll()) != null; ) {
          MonoSink<Void> sink = next.sink();
          current.send(next.frame()).subscribe(null, sink::error, sink::success);
        }
      }
      missed = wip.addAndGet(-missed);
    } while (missed != 0);
  }

  private void resolve() {
    if (!resolving.compareAndSet(false, true)) {
      return;
    }
    resolver
        .apply(destination)
        .subscribe(
            resolved -> {
              connection = resolved;
              resolving.set(false);
              drain();
            },
            error -> {
              resolving.set(false);
              onFailure.run();
              for (Outgoing next; (next = poll()) != null; ) {
                next.sink().error(error);
              }
            });
  }

  private record Outgoing(OutboundFrame frame, MonoSink<Void> sink) {}
}

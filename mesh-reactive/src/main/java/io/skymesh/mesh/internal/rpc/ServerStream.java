package io.skymesh.mesh.internal.rpc;

import io.skymesh.codec.Headers;
import io.skymesh.core.exceptions.OverloadedException;
import io.skymesh.core.exceptions.Statuses;
import io.skymesh.mesh.internal.metrics.MeshMetrics;
import io.skymesh.mesh.internal.transport.PeerConnection;
import io.skymesh.mesh.rpc.IncomingRequest;
import io.skymesh.mesh.rpc.Reply;
import io.skymesh.proto.PeerFrame;
import io.skymesh.proto.Status;
import io.skymesh.proto.StatusCode;
import io.skymesh.proto.StreamEnd;
import io.skymesh.proto.StreamItem;
import java.util.concurrent.atomic.AtomicBoolean;
import org.reactivestreams.Subscription;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;

/**
 * The responder's side of one stream or channel a peer opened: the subscriber of the handler's
 * replies, which it requests only as the requester grants credit, and, for a channel, the inbox of
 * the requester's requests, for which it grants credit as the handler asks.
 *
 * <p>The handler's work ends once, by its completion or error or by its disposal (the requester's
 * cancel, a close, an abort), whichever comes first ({@link HandlerWork}).
 */
final class ServerStream extends HandlerWork<Reply> {

  private static final Logger log = LoggerFactory.getLogger(ServerStream.class);

  private final PeerConnection connection;
  private final long id;
  private final long initialCredit;
  private final IncomingRequest open;
  private final MeshMetrics metrics;
  private final Runnable onFinally;
  private final StreamInbox<IncomingRequest> requests;
  private final SendOutcome sent = new SendOutcome(this::replyNotSent);

  /** Set once nothing more is to be sent to the requester. */
  private final AtomicBoolean ended = new AtomicBoolean();

  /**
   * Creates the responder's side.
   *
   * @param open the stream's request (for a channel, its first one, with the open's headers)
   * @param channel whether requests follow
   * @param hasFirst whether a channel's open carried its first request
   * @param window the most requests in flight to this side
   * @param onFinally run once the stream is over, however it ended
   */
  ServerStream(
      PeerConnection connection,
      long id,
      long initialCredit,
      IncomingRequest open,
      boolean channel,
      boolean hasFirst,
      int window,
      MeshMetrics metrics,
      Runnable onFinally) {
    this.connection = connection;
    this.id = id;
    this.initialCredit = initialCredit;
    this.open = open;
    this.metrics = metrics;
    this.onFinally = onFinally;
    if (channel) {
      requests =
          new StreamInbox<>(
              window, hasFirst ? 1 : 0, this::grant, this::requestsCancelled, () -> {});
      requests.startCredit();
      if (hasFirst) {
        requests.offer(open);
      }
    } else {
      requests = null;
    }
  }

  /** A channel's requests, for its handler; one subscriber. */
  Flux<IncomingRequest> requests() {
    return requests.flux();
  }

  /** The requests of a channel whose open said they ended already. */
  void requestsEndedAtOpen() {
    requests.end(null);
  }

  // ---------------------------------------------------------------------------------------------
  // From the requester, on the connection's event loop

  void onItem(StreamItem item) {
    if (requests == null || ended.get()) {
      return;
    }
    String oversized = Headers.check(item.getHeadersList());
    if (oversized != null) {
      abort(StatusCode.INVALID_ARGUMENT, "a request was refused: " + oversized);
      return;
    }
    IncomingRequest request =
        new IncomingRequest(
            open.source(),
            open.destination(),
            open.method(),
            Headers.toMap(item.getHeadersList()),
            item.getPayload(),
            open.timeout(),
            false);
    if (!requests.offer(request)) {
      abort(
          StatusCode.RESOURCE_EXHAUSTED,
          "the requester sent more requests than the " + (requests.received() - 1) + " granted");
    }
  }

  void onCredit(long credit) {
    if (credit == 0) {
      abort(StatusCode.INVALID_ARGUMENT, "a credit of 0 (expected: at least 1)");
      return;
    }
    request(credit);
  }

  void onRequestsEnd(StreamEnd end) {
    if (requests == null) {
      return;
    }
    Status status = end.getStatus();
    requests.end(
        status.getCode() == StatusCode.OK
            ? null
            : Statuses.toException(status, open.source() + "'s requests"));
  }

  /** The requester cancelled: the handler's work is disposed and nothing more is sent. */
  void onCancel() {
    ended.set(true);
    dispose();
  }

  // ---------------------------------------------------------------------------------------------
  // The handler's replies

  @Override
  void started(Subscription subscription) {
    if (initialCredit > 0) {
      subscription.request(initialCredit);
    }
  }

  @Override
  public void onNext(Reply reply) {
    if (ended.get()) {
      return;
    }
    connection.send(StreamFrames.item(id, true, reply.headers(), reply.payload())).subscribe(sent);
  }

  @Override
  public void onComplete() {
    if (end()) {
      finish(StreamFrames.completed(id, true));
      release();
    }
  }

  @Override
  public void onError(Throwable error) {
    if (end()) {
      finish(StreamFrames.end(id, true, Statuses.toStatus(error)));
      release();
    }
  }

  @Override
  void disposed() {
    release();
  }

  /** Once, however the handler's work ended: nothing more is sent, and its slot is given back. */
  private void release() {
    ended.set(true);
    onFinally.run();
  }

  private void finish(PeerFrame end) {
    if (!ended.compareAndSet(false, true)) {
      return;
    }
    connection
        .send(end)
        .subscribe(
            null,
            e -> {
              metrics.replyLost();
              log.debug("The end of stream {} on {} was lost: {}", id, connection, e);
            });
  }

  private void replyNotSent(Throwable error) {
    if (error instanceof OverloadedException) {
      // A reply over the frame limit: the requester must still learn why its stream ended.
      abort(StatusCode.RESOURCE_EXHAUSTED, String.valueOf(error.getMessage()));
    } else {
      // The connection is gone; its close disposes the stream.
      metrics.replyLost();
      log.debug("A reply of stream {} on {} was lost: {}", id, connection, error);
    }
  }

  /** Ends the stream for the requester's fault (or an unsendable reply), and tells it why. */
  private void abort(StatusCode code, String message) {
    if (ended.get()) {
      return;
    }
    finish(StreamFrames.end(id, true, RpcServer.status(code, message)));
    dispose();
  }

  private void grant(long credit) {
    if (!ended.get()) {
      connection
          .send(StreamFrames.credit(id, true, credit))
          .subscribe(null, e -> log.debug("Credit of stream {} not sent: {}", id, e));
    }
  }

  /** The handler wants no more requests: the requester stops its upload. */
  private void requestsCancelled() {
    if (!ended.get()) {
      connection
          .send(StreamFrames.cancel(id, true, "the handler cancelled its requests"))
          .subscribe(null, e -> log.debug("Cancel of stream {} not sent: {}", id, e));
    }
  }
}

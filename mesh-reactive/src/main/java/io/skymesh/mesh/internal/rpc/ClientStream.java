package io.skymesh.mesh.internal.rpc;

import com.google.protobuf.ByteString;
import io.skymesh.codec.Headers;
import io.skymesh.core.exceptions.Statuses;
import io.skymesh.mesh.internal.peer.UrlCache;
import io.skymesh.mesh.internal.transport.PeerConnection;
import io.skymesh.mesh.rpc.OutgoingRequest;
import io.skymesh.mesh.rpc.Reply;
import io.skymesh.proto.PeerFrame;
import io.skymesh.proto.Status;
import io.skymesh.proto.StatusCode;
import io.skymesh.proto.StreamEnd;
import io.skymesh.proto.StreamItem;
import io.skymesh.proto.StreamOpen;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscription;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.BaseSubscriber;
import reactor.core.publisher.Flux;

/**
 * The requester's side of one stream or channel on a connection: opens it, grants the responder
 * credit for replies as its subscriber asks, uploads a channel's requests as the responder grants
 * credit, and ends on the responder's end, a cancel, or the connection's close.
 */
final class ClientStream {

  private static final Logger log = LoggerFactory.getLogger(ClientStream.class);

  private final PeerConnection connection;
  private final long id;
  private final OutgoingRequest request;
  private final Publisher<ByteString> requests;
  private final long timeoutNanos;
  private final UrlCache urls;
  private final Runnable forget;
  private final StreamInbox<Reply> replies;
  private final AtomicBoolean done = new AtomicBoolean();
  private final SendOutcome sent = new SendOutcome(this::sendFailed);
  private volatile boolean opened;
  private volatile Uploader uploader;

  /**
   * Creates the stream; nothing is sent before its reply {@code Flux} is subscribed.
   *
   * @param requests a channel's requests, or null for a server stream
   * @param timeoutNanos the time left for the whole stream, for the wire; 0 for none
   * @param forget removes the stream from its connection's table
   */
  ClientStream(
      PeerConnection connection,
      long id,
      OutgoingRequest request,
      Publisher<ByteString> requests,
      long timeoutNanos,
      int window,
      UrlCache urls,
      Runnable forget) {
    this.connection = connection;
    this.id = id;
    this.request = request;
    this.requests = requests;
    this.timeoutNanos = timeoutNanos;
    this.urls = urls;
    this.forget = forget;
    this.replies = new StreamInbox<>(window, 0, this::grant, this::cancelledHere, this::start);
  }

  long id() {
    return id;
  }

  /** The replies: subscribing opens the stream. */
  Flux<Reply> replies() {
    return replies.flux();
  }

  // ---------------------------------------------------------------------------------------------
  // From the responder, on the connection's event loop

  void onItem(StreamItem item) {
    if (done.get()) {
      return;
    }
    String oversized = Headers.check(item.getHeadersList());
    if (oversized != null) {
      abort(StatusCode.INVALID_ARGUMENT, "a reply was refused: " + oversized);
      return;
    }
    Reply reply = new Reply(Headers.toMap(item.getHeadersList()), item.getPayload());
    if (!replies.offer(reply)) {
      abort(
          StatusCode.RESOURCE_EXHAUSTED,
          "the responder sent more replies than the " + (replies.received() - 1) + " granted");
    }
  }

  void onCredit(long credit) {
    if (credit == 0) {
      abort(
          StatusCode.INVALID_ARGUMENT,
          "the responder granted a credit of 0 (expected: at least 1)");
      return;
    }
    Uploader upload = uploader;
    if (upload != null && !done.get()) {
      upload.request(credit);
    }
  }

  void onEnd(StreamEnd end) {
    if (!finish()) {
      return;
    }
    Status status = end.getStatus();
    replies.end(status.getCode() == StatusCode.OK ? null : Statuses.toException(status, context()));
  }

  /** The responder wants no more of a channel's requests; the replies go on. */
  void onCancel() {
    stopUpload();
  }

  /** The connection closed, or the peer went away before it started the stream. */
  void fail(Throwable error) {
    if (finish()) {
      replies.end(error);
    }
  }

  String context() {
    return request.destination() + " " + request.method();
  }

  // ---------------------------------------------------------------------------------------------

  /** The subscriber has asked for its first window: open, or wait for a channel's first request. */
  private void start() {
    if (requests == null) {
      open(request.payload(), true, false);
      return;
    }
    Uploader upload = new Uploader();
    uploader = upload;
    Flux.from(requests).subscribe(upload);
  }

  private void open(ByteString payload, boolean hasPayload, boolean requestsComplete) {
    if (done.get()) {
      return;
    }
    StreamOpen.Builder open =
        StreamOpen.newBuilder()
            .setStreamId(id)
            .setSourceBytes(urls.utf8(request.source()))
            .setDestinationBytes(urls.utf8(request.destination()))
            .setMethod(request.method())
            .setHasPayload(hasPayload)
            .setChannel(requests != null)
            .setRequestsComplete(requestsComplete)
            .setLeaderTerm(request.leaderTerm())
            .setInitialCredit((int) Math.min(replies.takeUngranted(), Integer.MAX_VALUE));
    if (!payload.isEmpty()) {
      open.setPayload(payload);
    }
    if (timeoutNanos > 0) {
      open.setTimeoutMicros(Math.max(1, TimeUnit.NANOSECONDS.toMicros(timeoutNanos)));
    }
    if (!request.headers().isEmpty()) {
      open.addAllHeaders(Headers.fromMap(request.headers()));
    }
    send(PeerFrame.newBuilder().setStreamOpen(open).build());
    opened = true;
    replies.startCredit();
    if (done.get()) {
      // Cancelled while the open was being built: the responder must hear of it.
      send(StreamFrames.cancel(id, false, "the caller cancelled"));
    }
  }

  private void grant(long credit) {
    if (!done.get()) {
      send(StreamFrames.credit(id, false, credit));
    }
  }

  /** The subscriber cancelled (directly, or by a deadline above). */
  private void cancelledHere() {
    if (finish() && opened) {
      send(StreamFrames.cancel(id, false, "the caller cancelled"));
    }
  }

  /** Ends the stream here for the responder's fault, and tells it so. */
  private void abort(StatusCode code, String message) {
    if (!finish()) {
      return;
    }
    send(StreamFrames.cancel(id, false, message));
    replies.end(Statuses.toException(code, context() + ": " + message));
  }

  private void stopUpload() {
    Uploader upload = uploader;
    if (upload != null) {
      upload.dispose();
    }
  }

  private void send(PeerFrame frame) {
    connection.send(frame).subscribe(sent);
  }

  private void sendFailed(Throwable error) {
    if (!finish()) {
      log.debug("A frame of ended stream {} on {} was not sent: {}", id, connection, error);
      return;
    }
    // The stream cannot go on: the caller hears why; the responder, if it can still hear.
    if (opened) {
      send(StreamFrames.cancel(id, false, "the caller could not send: " + error));
    }
    replies.end(error);
  }

  /**
   * Ends the stream here: forgets it and stops the upload, once.
   *
   * @return whether this call ended it
   */
  private boolean finish() {
    if (!done.compareAndSet(false, true)) {
      return false;
    }
    forget.run();
    stopUpload();
    return true;
  }

  /** Subscribes a channel's requests, asking for as many as the responder granted. */
  private final class Uploader extends BaseSubscriber<ByteString> {

    @Override
    protected void hookOnSubscribe(Subscription subscription) {
      // The first request travels with the open, without a grant.
      subscription.request(1);
    }

    @Override
    protected void hookOnNext(ByteString payload) {
      if (!opened) {
        open(payload, true, false);
      } else if (!done.get()) {
        send(StreamFrames.item(id, false, Map.of(), payload));
      }
    }

    @Override
    protected void hookOnComplete() {
      if (!opened) {
        open(ByteString.EMPTY, false, true);
      } else if (!done.get()) {
        send(StreamFrames.completed(id, false));
      }
    }

    @Override
    protected void hookOnError(Throwable error) {
      if (!opened) {
        fail(error);
      } else if (!done.get()) {
        send(StreamFrames.end(id, false, Statuses.toStatus(error)));
      }
    }
  }
}

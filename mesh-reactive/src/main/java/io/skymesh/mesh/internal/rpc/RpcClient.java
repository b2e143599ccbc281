package io.skymesh.mesh.internal.rpc;

import com.google.protobuf.ByteString;
import io.skymesh.codec.Headers;
import io.skymesh.core.exceptions.PeerUnavailableException;
import io.skymesh.core.exceptions.Statuses;
import io.skymesh.mesh.internal.metrics.MeshMetrics;
import io.skymesh.mesh.internal.peer.UrlCache;
import io.skymesh.mesh.internal.transport.InboundResponse;
import io.skymesh.mesh.internal.transport.OutboundRequest;
import io.skymesh.mesh.internal.transport.PeerConnection;
import io.skymesh.mesh.rpc.OutgoingRequest;
import io.skymesh.mesh.rpc.Reply;
import io.skymesh.proto.Cancel;
import io.skymesh.proto.GoAway;
import io.skymesh.proto.PeerFrame;
import io.skymesh.proto.StatusCode;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscription;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Operators;
import reactor.core.publisher.Sinks;

/**
 * The caller's side of requests and streams over peer connections: stream ids per connection (one
 * space for both), the table of requests waiting for their {@code Response} and of streams not
 * ended, {@code Cancel} / {@code StreamCancel} when a caller gives up, and the failure of what is
 * pending when a connection closes or the peer goes away.
 */
public final class RpcClient {

  private static final Logger log = LoggerFactory.getLogger(RpcClient.class);

  private final Map<PeerConnection, Streams> streams = new ConcurrentHashMap<>();
  private final UrlCache urls;
  private final MeshMetrics metrics;

  /**
   * Creates the caller's side.
   *
   * @param urls the mesh's address conversions
   */
  public RpcClient(UrlCache urls) {
    this(urls, MeshMetrics.NONE);
  }

  /**
   * Creates the caller's side, metered.
   *
   * @param urls the mesh's address conversions
   * @param metrics the mesh's meters
   */
  public RpcClient(UrlCache urls, MeshMetrics metrics) {
    this.urls = urls;
    this.metrics = metrics;
  }

  /**
   * Sends a request on a connection and waits for its reply. Cancelling sends {@code Cancel}.
   *
   * @param connection the destination's process
   * @param request the request
   * @param deadlineNanos the {@code System.nanoTime()} when the caller gives up; what is left of it
   *     travels on the wire
   * @return the reply; empty for a one-way request, once written; the typed exception of an error
   *     status; {@code PeerUnavailableException} if the connection closes first
   */
  public Mono<Reply> call(PeerConnection connection, OutgoingRequest request, long deadlineNanos) {
    return new Call(connection, request, deadlineNanos);
  }

  /** The {@code Mono} of one request: each subscription sends the request once. */
  private final class Call extends Mono<Reply> {

    private final PeerConnection connection;
    private final OutgoingRequest request;
    private final long deadlineNanos;

    Call(PeerConnection connection, OutgoingRequest request, long deadlineNanos) {
      this.connection = connection;
      this.request = request;
      this.deadlineNanos = deadlineNanos;
    }

    @Override
    public void subscribe(CoreSubscriber<? super Reply> actual) {
      Streams table = streams(connection);
      long id = table.nextId.incrementAndGet();
      long left = Math.max(1, deadlineNanos - System.nanoTime());
      OutboundRequest frame = request(request, id, left);
      if (request.oneWay()) {
        connection.send(frame).then(Mono.<Reply>empty()).subscribe(actual);
        return;
      }
      Pending pending = new Pending(actual, request, connection, table, id);
      actual.onSubscribe(pending);
      table.pending.putIfAbsent(pending); // ids from nextId are unique: never refused
      if (pending.isCancelled() && table.take(pending)) {
        return; // cancelled before it was in the table: nothing was sent, nothing to cancel
      }
      connection.send(frame).subscribe(pending);
    }
  }

  /**
   * Opens a stream or a channel on a connection when the returned {@code Flux} is subscribed.
   * Cancelling sends {@code StreamCancel}.
   *
   * @param connection the destination's process
   * @param request the open: method, headers, and a stream's request
   * @param requests a channel's requests, or null for a server stream
   * @param timeoutNanos the time the whole stream may take, for the responder; 0 for none
   * @param window the most replies in flight
   * @return the replies; the typed exception of an error status; {@code PeerUnavailableException}
   *     if the connection closes first
   */
  public Flux<Reply> openStream(
      PeerConnection connection,
      OutgoingRequest request,
      Publisher<ByteString> requests,
      long timeoutNanos,
      int window) {
    return Flux.defer(
        () -> {
          Streams table = streams(connection);
          long id = table.nextId.incrementAndGet();
          ClientStream[] self = new ClientStream[1];
          ClientStream stream =
              new ClientStream(
                  connection,
                  id,
                  request,
                  requests,
                  timeoutNanos,
                  window,
                  urls,
                  () -> table.takeStream(id, self[0]));
          self[0] = stream;
          table.open.put(id, stream);
          return stream.replies();
        });
  }

  /**
   * Handles a frame of a stream this process opened ({@code to_requester} set): a reply, credit for
   * a channel's requests, the end, or the responder's cancel of the requests. Unknown ids (the
   * stream ended here already) are ignored.
   *
   * @param frame the frame
   * @param connection where it came from
   * @return completes at once
   */
  public Mono<Void> onStreamFrame(PeerFrame frame, PeerConnection connection) {
    Streams table = streams.get(connection);
    if (table == null) {
      return Mono.empty();
    }
    switch (frame.getBodyCase()) {
      case STREAM_ITEM -> {
        ClientStream stream = table.find(frame.getStreamItem().getStreamId());
        if (stream != null) {
          stream.onItem(frame.getStreamItem());
        } else {
          metrics.responseUnmatched();
        }
      }
      case STREAM_CREDIT -> {
        ClientStream stream = table.find(frame.getStreamCredit().getStreamId());
        if (stream != null) {
          stream.onCredit(Integer.toUnsignedLong(frame.getStreamCredit().getCredit()));
        }
      }
      case STREAM_END -> {
        ClientStream stream = table.find(frame.getStreamEnd().getStreamId());
        if (stream != null) {
          stream.onEnd(frame.getStreamEnd());
        }
      }
      case STREAM_CANCEL -> {
        ClientStream stream = table.find(frame.getStreamCancel().getStreamId());
        if (stream != null) {
          stream.onCancel();
        }
      }
      default -> {}
    }
    return Mono.empty();
  }

  /**
   * Completes the request a {@code Response} answers; an unknown stream id (cancelled, timed out)
   * is counted and ignored. A payload held in a pooled array (pooled payloads) is valid while the
   * reply's {@code onNext} runs, and released after it; a caller that has not asked for the reply
   * yet gets a copy instead.
   *
   * @param response the response
   * @param connection where it came from
   * @return completes at once
   */
  public Mono<Void> onResponse(InboundResponse response, PeerConnection connection) {
    Streams table = streams.get(connection);
    Pending pending = table == null ? null : table.take(response.streamId());
    if (pending == null) {
      response.release();
      metrics.responseUnmatched();
      return Mono.empty();
    }
    try {
      String oversized = Headers.check(response.headers());
      if (oversized != null) {
        pending.fail(
            Statuses.toException(
                StatusCode.INVALID_ARGUMENT,
                pending.context() + ": the response was refused: " + oversized));
      } else if (response.status().getCode() == StatusCode.OK) {
        ByteString payload = response.payload();
        if (response.pooledPayload() != null && !pending.requested) {
          // The reply would be kept until asked for, past the buffer's release below.
          payload = ByteString.copyFrom(payload.asReadOnlyByteBuffer());
        }
        pending.complete(new Reply(Headers.toMap(response.headers()), payload));
      } else {
        pending.fail(Statuses.toException(response.status(), pending.context()));
      }
    } finally {
      response.release();
    }
    return Mono.empty();
  }

  /**
   * The peer will answer no request above {@code last_stream_id}: fail those now, typed as
   * unavailable (they never started there, so retrying elsewhere is safe).
   *
   * @param goAway the frame
   * @param connection where it came from
   * @return completes at once
   */
  public Mono<Void> onGoAway(GoAway goAway, PeerConnection connection) {
    Streams table = streams.get(connection);
    if (table == null || goAway.getStatus().getCode() != StatusCode.OK) {
      // A non-OK GoAway is followed by the close, which fails everything pending.
      return Mono.empty();
    }
    long last = goAway.getLastStreamId();
    table.open.forEach(
        (id, stream) -> {
          if (id > last) {
            stream.fail(
                new PeerUnavailableException(
                    stream.context() + ": " + connection + " is going away; not started there"));
          }
        });
    table.pending.forEach(
        pending -> {
          if (pending.streamId() > last && table.take(pending)) {
            pending.fail(
                new PeerUnavailableException(
                    pending.context() + ": " + connection + " is going away; not started there"));
          }
        });
    return Mono.empty();
  }

  /**
   * Completes once no request waits for a reply on any connection to {@code address} (each ends by
   * its reply, its deadline, its cancellation or its connection's close), so that a connection is
   * released only after the requests on it are answered.
   *
   * @param address a peer's listen address
   * @return completes when none is waiting
   */
  public Mono<Void> idle(String address) {
    return Flux.fromIterable(streams.entrySet())
        .filter(entry -> entry.getKey().remoteAddress().equals(address))
        .flatMap(entry -> entry.getValue().idle())
        .then();
  }

  /** Requests waiting for a reply on every connection; an instant reading. */
  public int pending() {
    int total = 0;
    for (Streams table : streams.values()) {
      total += table.pending.size();
    }
    return total;
  }

  /** Streams and channels this process opened that have not ended; an instant reading. */
  public int openStreams() {
    int total = 0;
    for (Streams table : streams.values()) {
      total += table.open.size();
    }
    return total;
  }

  private Streams streams(PeerConnection connection) {
    Streams table = streams.get(connection);
    if (table != null) {
      return table;
    }
    Streams fresh = new Streams();
    Streams prior = streams.putIfAbsent(connection, fresh);
    if (prior != null) {
      return prior;
    }
    // Outside the map's update: a connection closed already completes onClose at once.
    connection.onClose().subscribe(null, null, () -> closed(connection));
    return fresh;
  }

  private void closed(PeerConnection connection) {
    Streams table = streams.remove(connection);
    if (table == null) {
      return;
    }
    table.open.forEach(
        (id, stream) ->
            stream.fail(
                new PeerUnavailableException(
                    stream.context() + ": " + connection + " closed before the stream ended")));
    table.pending.forEach(
        pending -> {
          if (table.take(pending)) {
            pending.fail(
                new PeerUnavailableException(
                    pending.context() + ": " + connection + " closed before the reply"));
          }
        });
  }

  private OutboundRequest request(OutgoingRequest request, long id, long timeoutNanos) {
    return new OutboundRequest(
        id,
        urls.utf8(request.source()),
        urls.utf8(request.destination()),
        request.method(),
        request.headers(),
        request.payload(),
        Math.max(1, TimeUnit.NANOSECONDS.toMicros(timeoutNanos)),
        request.oneWay(),
        request.leaderTerm());
  }

  private static PeerFrame cancel(long id, String reason) {
    return PeerFrame.newBuilder()
        .setCancel(Cancel.newBuilder().setStreamId(id).setReason(reason))
        .build();
  }

  private static final class Streams {
    final AtomicLong nextId = new AtomicLong();
    final StreamTable<Pending> pending = new StreamTable<>();
    final Map<Long, ClientStream> open = new ConcurrentHashMap<>();
    volatile ClientStream recent;
    final Queue<Sinks.Empty<Void>> idleWaiters = new ConcurrentLinkedQueue<>();

    /** Removes a request; the last one out wakes those waiting for the table to empty. */
    Pending take(long id) {
      Pending removed = pending.remove(id);
      if (removed != null) {
        wakeIfIdle();
      }
      return removed;
    }

    /**
     * The open stream of an id. The last one found is kept, so the frames of a busy stream skip the
     * map and the boxing of their id; a stream that ended ignores the frames still in flight to it.
     */
    ClientStream find(long id) {
      ClientStream last = recent;
      if (last != null && last.id() == id) {
        return last;
      }
      ClientStream found = open.get(id);
      if (found != null) {
        recent = found;
      }
      return found;
    }

    void takeStream(long id, ClientStream expected) {
      if (open.remove(id, expected)) {
        if (recent == expected) {
          recent = null;
        }
        wakeIfIdle();
      }
    }

    boolean take(Pending expected) {
      boolean removed = pending.remove(expected);
      if (removed) {
        wakeIfIdle();
      }
      return removed;
    }

    Mono<Void> idle() {
      return Mono.defer(
          () -> {
            if (pending.isEmpty() && open.isEmpty()) {
              return Mono.empty();
            }
            Sinks.Empty<Void> waiter = Sinks.empty();
            idleWaiters.add(waiter);
            // A removal between the check and the add would not have seen this waiter.
            wakeIfIdle();
            return waiter.asMono();
          });
    }

    private void wakeIfIdle() {
      // Tables are scanned only while someone waits: a waiter added after this read checks again.
      if (idleWaiters.isEmpty() || !pending.isEmpty() || !open.isEmpty()) {
        return;
      }
      for (Sinks.Empty<Void> waiter; (waiter = idleWaiters.poll()) != null; ) {
        waiter.tryEmitEmpty();
      }
    }
  }

  /**
   * A request waiting for its reply, in one object: the caller's subscription, the subscriber of
   * the send's outcome, and the stream table's entry. Whoever takes it out of the table (the reply,
   * a failed send, a cancel, a close or a {@code GoAway}) ends it; the others find it gone.
   */
  private static final class Pending extends Operators.MonoSubscriber<Void, Reply>
      implements StreamTable.Entry {

    private final OutgoingRequest request;
    private final PeerConnection connection;
    private final Streams table;
    private final long id;

    /**
     * Set once the caller's demand has reached {@code MonoSubscriber}: a reply then goes out now.
     */
    volatile boolean requested;

    Pending(
        CoreSubscriber<? super Reply> actual,
        OutgoingRequest request,
        PeerConnection connection,
        Streams table,
        long id) {
      super(actual);
      this.request = request;
      this.connection = connection;
      this.table = table;
      this.id = id;
    }

    @Override
    public long streamId() {
      return id;
    }

    String context() {
      return request.destination() + " " + request.method();
    }

    @Override
    public void request(long n) {
      super.request(n);
      requested = true;
    }

    /**
     * No fusion: a fused subscriber would take the reply later, on its own thread, after its pooled
     * payload has been released.
     */
    @Override
    public int requestFusion(int mode) {
      return NONE;
    }

    /** Ends the call with an error; called by whoever took it out of the table. */
    void fail(Throwable error) {
      actual.onError(error);
    }

    // The send's outcome: a written request waits for its reply; a failed one fails the call.

    @Override
    public void onSubscribe(Subscription s) {
      // A Mono<Void>: nothing to request, and a send taken for writing is written anyway.
    }

    @Override
    public void onNext(Void nothing) {}

    @Override
    public void onComplete() {}

    @Override
    public void onError(Throwable error) {
      if (table.take(this)) {
        actual.onError(error);
      }
    }

    @Override
    public void cancel() {
      super.cancel();
      if (table.take(this)) {
        connection
            .send(RpcClient.cancel(id, "the caller cancelled"))
            .subscribe(null, e -> log.debug("Cancel of {} not sent: {}", id, e));
      }
    }
  }
}

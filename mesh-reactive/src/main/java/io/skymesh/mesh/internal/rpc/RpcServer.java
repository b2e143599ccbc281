package io.skymesh.mesh.internal.rpc;

import com.google.protobuf.ByteString;
import io.skymesh.codec.Headers;
import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.MeshTimeoutException;
import io.skymesh.core.exceptions.NotLeaderException;
import io.skymesh.core.exceptions.OverloadedException;
import io.skymesh.core.exceptions.Statuses;
import io.skymesh.mesh.internal.metrics.MeshMetrics;
import io.skymesh.mesh.internal.peer.DataPlane;
import io.skymesh.mesh.internal.peer.LocalService;
import io.skymesh.mesh.internal.peer.ServiceEndpoint;
import io.skymesh.mesh.internal.peer.UrlCache;
import io.skymesh.mesh.internal.transport.InboundRequest;
import io.skymesh.mesh.internal.transport.OutboundResponse;
import io.skymesh.mesh.internal.transport.PeerConnection;
import io.skymesh.mesh.rpc.IncomingRequest;
import io.skymesh.mesh.rpc.Methods;
import io.skymesh.mesh.rpc.Reply;
import io.skymesh.mesh.rpc.ServerInterceptor;
import io.skymesh.proto.Cancel;
import io.skymesh.proto.Header;
import io.skymesh.proto.PeerFrame;
import io.skymesh.proto.Status;
import io.skymesh.proto.StatusCode;
import io.skymesh.proto.StreamOpen;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscription;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.MonoSink;
import reactor.core.scheduler.Schedulers;

/**
 * The server side of requests: runs the handler of each {@code Request} (from a peer connection or
 * from a caller in this process), answers with one {@code Response}, stops the handler when the
 * deadline passes or a {@code Cancel} comes, and caps the handlers running per service.
 *
 * <p>An inbound request is subscribed at once and the connection goes on with its next frame:
 * requests on one connection do not wait for each other. A refused request (unknown destination,
 * service at its cap) instead holds the connection until its error {@code Response} is written, so
 * a flood of refused requests is paced by the socket rather than queued in memory.
 */
public final class RpcServer {

  private static final Logger log = LoggerFactory.getLogger(RpcServer.class);

  private final DataPlane plane;
  private final List<ServerInterceptor> interceptors;
  private final Map<PeerConnection, StreamTable<ServerCall>> calls = new ConcurrentHashMap<>();
  private final Map<PeerConnection, Map<Long, ServerStream>> streams = new ConcurrentHashMap<>();
  private final AtomicInteger running = new AtomicInteger();
  private final AtomicLong reusedStreamIds = new AtomicLong();
  private final UrlCache urls;
  private final MeshMetrics metrics;
  private final int streamWindow;

  /**
   * Creates the server side.
   *
   * @param plane the services of this process and the check of leader-routed requests
   * @param interceptors outermost first
   */
  public RpcServer(DataPlane plane, List<ServerInterceptor> interceptors) {
    this(plane, interceptors, RpcConfig.DEFAULT_STREAM_WINDOW);
  }

  /**
   * Creates the server side.
   *
   * @param plane the services of this process and the check of leader-routed requests
   * @param interceptors outermost first
   * @param streamWindow the most requests of a channel in flight to one handler
   */
  public RpcServer(DataPlane plane, List<ServerInterceptor> interceptors, int streamWindow) {
    this.streamWindow = streamWindow;
    this.plane = plane;
    this.interceptors = List.copyOf(interceptors);
    this.urls = plane.urls();
    this.metrics = plane.metrics();
  }

  /** Requests refused because their stream id was still in flight on their connection. */
  public long reusedStreamIds() {
    return reusedStreamIds.get();
  }

  /** Calls running now, remote and in process; an instant reading. */
  public int running() {
    return running.get();
  }

  /** Completes once no call is running (polling every 10 ms); for graceful close. */
  public Mono<Void> whenIdle() {
    return Mono.fromCallable(() -> running.get() == 0)
        .filter(idle -> idle)
        .repeatWhenEmpty(ticks -> ticks.delayElements(Duration.ofMillis(10)))
        .then();
  }

  /**
   * Handles a {@code Request} frame from a peer.
   *
   * @param request the request
   * @param connection where it came from, and where the reply goes
   * @return completes when the connection may read its next frame
   */
  public Mono<Void> onRequest(InboundRequest request, PeerConnection connection) {
    long streamId = request.streamId();
    Admission admission =
        admit(
            request.source(),
            request.destination(),
            request.leaderTerm(),
            request.headers(),
            connection);
    if (admission.refusal() != null) {
      request.release();
      return refuse(
          request, connection, admission.refusal().getCode(), admission.refusal().getMessage());
    }
    ServiceEndpoint endpoint = admission.endpoint();
    IncomingRequest incoming =
        new IncomingRequest(
            admission.source(),
            admission.destination(),
            request.method(),
            Headers.toMap(request.headers()),
            request.payload(),
            Duration.ofNanos(TimeUnit.MICROSECONDS.toNanos(request.timeoutMicros())),
            request.oneWay());
    Responder responder =
        request.oneWay()
            ? new OneWayResponder(incoming, request, connection)
            : new ConnectionResponder(connection, request, metrics);
    if (request.oneWay()) {
      start(endpoint, incoming, new ServerCall(endpoint, responder, null, 0));
      return Mono.empty();
    }
    StreamTable<ServerCall> table = table(connection);
    ServerCall call = new ServerCall(endpoint, responder, table, streamId);
    if (table.putIfAbsent(call) != null) {
      endpoint.release();
      request.release();
      log.warn("{} reused stream id {} while in flight: refused", connection, streamId);
      reusedStreamIds.incrementAndGet();
      // The caller hears at once rather than at its deadline; the first call goes on.
      return refuse(
          request,
          connection,
          StatusCode.FAILED_PRECONDITION,
          "stream id " + streamId + " is still in flight on this connection");
    }
    start(endpoint, incoming, call);
    return Mono.empty();
  }

  /**
   * Handles a {@code Cancel} frame: disposes the call's handler; no {@code Response} is sent.
   *
   * @param cancel the cancel
   * @param connection where it came from
   * @return completes at once
   */
  public Mono<Void> onCancel(Cancel cancel, PeerConnection connection) {
    StreamTable<ServerCall> table = calls.get(connection);
    ServerCall call = table == null ? null : table.remove(cancel.getStreamId());
    if (call != null) {
      log.debug("{} cancelled stream {}: {}", connection, cancel.getStreamId(), cancel.getReason());
      call.dispose();
    }
    return Mono.empty();
  }

  /**
   * Handles a {@code StreamOpen} frame from a peer: starts the stream's handler, or refuses the
   * stream with a {@code StreamEnd} (holding the connection until it is written, as a refused
   * request does).
   *
   * @param open the open
   * @param connection where it came from, and where the replies go
   * @return completes when the connection may read its next frame
   */
  public Mono<Void> onStreamOpen(StreamOpen open, PeerConnection connection) {
    long streamId = open.getStreamId();
    Admission admission =
        admit(
            open.getSource(),
            open.getDestination(),
            open.getLeaderTerm(),
            open.getHeadersList(),
            connection);
    if (admission.refusal() != null) {
      return refuseStream(streamId, connection, admission.refusal());
    }
    ServiceEndpoint endpoint = admission.endpoint();
    IncomingRequest incoming =
        new IncomingRequest(
            admission.source(),
            admission.destination(),
            open.getMethod(),
            Headers.toMap(open.getHeadersList()),
            open.getPayload(),
            Duration.ofNanos(TimeUnit.MICROSECONDS.toNanos(open.getTimeoutMicros())),
            false);
    Map<Long, ServerStream> table = streamTable(connection);
    ServerStream[] self = new ServerStream[1];
    ServerStream stream =
        new ServerStream(
            connection,
            streamId,
            Integer.toUnsignedLong(open.getInitialCredit()),
            incoming,
            open.getChannel(),
            open.getHasPayload(),
            streamWindow,
            metrics,
            () -> {
              table.remove(streamId, self[0]);
              endpoint.release();
              running.decrementAndGet();
            });
    self[0] = stream;
    if (table.putIfAbsent(streamId, stream) != null) {
      endpoint.release();
      log.warn("{} reused stream id {} while in flight: refused", connection, streamId);
      reusedStreamIds.incrementAndGet();
      return refuseStream(
          streamId,
          connection,
          status(
              StatusCode.FAILED_PRECONDITION,
              "stream id " + streamId + " is still in flight on this connection"));
    }
    running.incrementAndGet();
    Flux<IncomingRequest> requests = null;
    if (open.getChannel()) {
      requests = stream.requests();
      if (open.getRequestsComplete()) {
        stream.requestsEndedAtOpen();
      }
    }
    streamWork(endpoint, incoming, requests).subscribe(stream);
    return Mono.empty();
  }

  /**
   * Handles a frame of a stream a peer opened ({@code to_requester} clear): a channel's request,
   * credit for replies, the end of a channel's requests, or the requester's cancel. Unknown ids are
   * ignored.
   *
   * @param frame the frame
   * @param connection where it came from
   * @return completes at once
   */
  public Mono<Void> onStreamFrame(PeerFrame frame, PeerConnection connection) {
    Map<Long, ServerStream> table = streams.get(connection);
    if (table == null) {
      return Mono.empty();
    }
    switch (frame.getBodyCase()) {
      case STREAM_ITEM -> {
        ServerStream stream = table.get(frame.getStreamItem().getStreamId());
        if (stream != null) {
          stream.onItem(frame.getStreamItem());
        }
      }
      case STREAM_CREDIT -> {
        ServerStream stream = table.get(frame.getStreamCredit().getStreamId());
        if (stream != null) {
          stream.onCredit(Integer.toUnsignedLong(frame.getStreamCredit().getCredit()));
        }
      }
      case STREAM_END -> {
        ServerStream stream = table.get(frame.getStreamEnd().getStreamId());
        if (stream != null) {
          stream.onRequestsEnd(frame.getStreamEnd());
        }
      }
      case STREAM_CANCEL -> {
        ServerStream stream = table.remove(frame.getStreamCancel().getStreamId());
        if (stream != null) {
          log.debug(
              "{} cancelled stream {}: {}",
              connection,
              frame.getStreamCancel().getStreamId(),
              frame.getStreamCancel().getReason());
          stream.onCancel();
        }
      }
      default -> {}
    }
    return Mono.empty();
  }

  /**
   * Opens a stream or channel to a service of this process without the network, with the same
   * semantics: interceptors, the caps, errors mapped through statuses; demand and cancellation pass
   * straight through Reactor.
   *
   * @param endpoint the service, or {@code null} if it is not registered here
   * @param request the stream's request (for a channel: the open, its payload empty)
   * @param requests a channel's requests, or null for a server stream
   * @return the replies, or the typed exception of the error status
   */
  public Flux<Reply> streamInProcess(
      ServiceEndpoint endpoint, IncomingRequest request, Publisher<ByteString> requests) {
    String context = request.destination() + " " + request.method();
    return Flux.defer(
        () -> {
          Throwable refused = admitInProcess(endpoint, request, context);
          if (refused != null) {
            return Flux.error(refused);
          }
          running.incrementAndGet();
          Flux<IncomingRequest> inbound = null;
          if (requests != null) {
            boolean[] first = {true};
            inbound =
                Flux.from(requests)
                    .map(
                        payload -> {
                          Map<String, String> headers = first[0] ? request.headers() : Map.of();
                          first[0] = false;
                          return new IncomingRequest(
                              request.source(),
                              request.destination(),
                              request.method(),
                              headers,
                              payload,
                              request.timeout(),
                              false);
                        });
          }
          return streamWork(endpoint, request, inbound)
              .onErrorMap(e -> Statuses.toException(Statuses.toStatus(e), context))
              .doFinally(
                  signal -> {
                    endpoint.release();
                    running.decrementAndGet();
                  });
        });
  }

  /**
   * Takes a handler slot of a service of this process for an in-process call or stream.
   *
   * @return null once the slot is taken; else why not: the service is gone or at its cap
   */
  private static Throwable admitInProcess(
      ServiceEndpoint endpoint, IncomingRequest request, String context) {
    if (endpoint == null) {
      return Statuses.toException(
          StatusCode.NOT_FOUND, context + ": " + request.destination() + " is gone");
    }
    if (!endpoint.tryAcquire()) {
      return new OverloadedException(context + ": " + overloaded(endpoint));
    }
    return null;
  }

  /** The handler's replies through the interceptors, bounded by the stream's deadline. */
  private Flux<Reply> streamWork(
      ServiceEndpoint endpoint, IncomingRequest request, Flux<IncomingRequest> requests) {
    Flux<Reply> work = Flux.defer(() -> streamChain(endpoint, 0, requests).apply(request));
    long timeoutNanos = request.timeout().toNanos();
    if (timeoutNanos > 0) {
      work = Deadlines.within(work, timeoutNanos, () -> deadlinePassed(request, "the stream's"));
    }
    if (metrics.enabled()) {
      work =
          metrics.handleStream(
              endpoint.url().serviceName(), meteredMethod(endpoint, request), work);
    }
    return work;
  }

  private Function<IncomingRequest, Flux<Reply>> streamChain(
      ServiceEndpoint endpoint, int index, Flux<IncomingRequest> requests) {
    if (index == interceptors.size()) {
      return request -> invokeStream(endpoint, request, requests);
    }
    ServerInterceptor interceptor = interceptors.get(index);
    Function<IncomingRequest, Flux<Reply>> next = streamChain(endpoint, index + 1, requests);
    return request -> Flux.defer(() -> interceptor.interceptStream(request, next));
  }

  private static Flux<Reply> invokeStream(
      ServiceEndpoint endpoint, IncomingRequest request, Flux<IncomingRequest> requests) {
    if (requests == null) {
      Methods.StreamDefinition method = endpoint.stream(request.method());
      if (method == null) {
        return Flux.error(notA("stream", endpoint, request.method()));
      }
      return Flux.defer(() -> method.handler().apply(request));
    }
    Methods.ChannelDefinition method = endpoint.channel(request.method());
    if (method == null) {
      return Flux.error(notA("channel", endpoint, request.method()));
    }
    return Flux.defer(() -> method.handler().apply(requests));
  }

  private static Throwable notA(String kind, ServiceEndpoint endpoint, String method) {
    String why =
        endpoint.hasMethod(method)
            ? "method " + method + " of " + endpoint.url() + " is not a " + kind + " method"
            : "method " + method + " is not implemented by " + endpoint.url();
    return Statuses.toException(StatusCode.UNIMPLEMENTED, why);
  }

  private Mono<Void> refuseStream(long streamId, PeerConnection connection, Status refusal) {
    metrics.requestRefused(refusal.getCode());
    return connection
        .send(StreamFrames.end(streamId, true, refusal))
        .onErrorResume(
            e -> {
              metrics.replyLost();
              log.debug("Could not refuse stream {} on {}: {}", streamId, connection, e);
              return Mono.empty();
            });
  }

  private Map<Long, ServerStream> streamTable(PeerConnection connection) {
    Map<Long, ServerStream> table = streams.get(connection);
    if (table != null) {
      return table;
    }
    Map<Long, ServerStream> fresh = new ConcurrentHashMap<>();
    Map<Long, ServerStream> prior = streams.putIfAbsent(connection, fresh);
    if (prior != null) {
      return prior;
    }
    connection
        .onClose()
        .subscribe(
            null,
            null,
            () -> {
              Map<Long, ServerStream> gone = streams.remove(connection);
              if (gone != null) {
                gone.values().forEach(ServerStream::onCancel);
              }
            });
    return fresh;
  }

  /**
   * Calls a service of this process without the network, with the same semantics: the deadline,
   * cancellation (cancelling the returned {@code Mono} disposes the handler), the caps and errors
   * mapped through statuses.
   *
   * @param endpoint the service, or {@code null} if it is not registered here
   * @param request the request
   * @return the reply, or the typed exception of the error status
   */
  public Mono<Reply> callInProcess(ServiceEndpoint endpoint, IncomingRequest request) {
    String context = request.destination() + " " + request.method();
    return Mono.create(
        sink -> {
          Throwable refused = admitInProcess(endpoint, request, context);
          if (refused != null) {
            sink.error(refused);
            return;
          }
          ServerCall call =
              new ServerCall(endpoint, new SinkResponder(sink, context, request), null, 0);
          sink.onCancel(call);
          start(endpoint, request, call);
        });
  }

  private void start(ServiceEndpoint endpoint, IncomingRequest request, ServerCall call) {
    running.incrementAndGet();
    Mono<Reply> work =
        interceptors.isEmpty()
            ? Mono.defer(() -> invoke(endpoint, request))
            : Mono.defer(() -> chain(endpoint, 0).apply(request));
    long timeoutNanos = request.timeout().toNanos();
    if (timeoutNanos > 0) {
      work = Deadlines.handling(work, timeoutNanos, () -> deadlinePassed(request, "the"));
    }
    if (metrics.enabled()) {
      work = metrics.handle(endpoint.url().serviceName(), meteredMethod(endpoint, request), work);
    }
    work.subscribe(call);
  }

  private static MeshTimeoutException deadlinePassed(IncomingRequest request, String whose) {
    return new MeshTimeoutException(
        request.destination()
            + " "
            + request.method()
            + ": "
            + whose
            + " deadline of "
            + request.timeout().toMillis()
            + " ms passed in the handler");
  }

  /** The method tag of a handler's meters: {@code <unknown>} for a method the service lacks. */
  private static String meteredMethod(ServiceEndpoint endpoint, IncomingRequest request) {
    return endpoint.hasMethod(request.method()) ? request.method() : MeshMetrics.UNKNOWN_METHOD;
  }

  private Function<IncomingRequest, Mono<Reply>> chain(ServiceEndpoint endpoint, int index) {
    if (index == interceptors.size()) {
      // Deferred: an interceptor may call next before it subscribes (an observation opens its
      // scope at subscription), and the handler must run at subscription.
      return request -> Mono.defer(() -> invoke(endpoint, request));
    }
    ServerInterceptor interceptor = interceptors.get(index);
    Function<IncomingRequest, Mono<Reply>> next = chain(endpoint, index + 1);
    return request -> Mono.defer(() -> interceptor.intercept(request, next));
  }

  private static Mono<Reply> invoke(ServiceEndpoint endpoint, IncomingRequest request) {
    Methods.Definition method = endpoint.method(request.method());
    if (method == null) {
      return Mono.error(
          Statuses.toException(
              StatusCode.UNIMPLEMENTED,
              "method " + request.method() + " is not implemented by " + endpoint.url()));
    }
    if (method.blocking()) {
      return Mono.defer(() -> method.handler().handle(request))
          .subscribeOn(Schedulers.boundedElastic());
    }
    // Called inside a Mono.defer (start's, or the chain's last): what the handler throws becomes
    // an error there.
    return method.handler().handle(request);
  }

  /**
   * The checks every call or stream from a peer passes before its handler runs: addresses that
   * parse, a source the connection may speak for, metadata within its limits, a destination that is
   * here (and leads, if the call was leader-routed), and a free handler slot, which it takes.
   */
  private Admission admit(
      String sourceText,
      String destinationText,
      long leaderTerm,
      List<Header> headers,
      PeerConnection connection) {
    ServiceUrl source;
    ServiceUrl destination;
    try {
      source = urls.parse(sourceText);
      destination = urls.parse(destinationText);
    } catch (IllegalArgumentException e) {
      return Admission.refused(StatusCode.INVALID_ARGUMENT, e.getMessage());
    }
    Status refused = connection.refusal(source);
    if (refused != null) {
      return new Admission(null, null, null, refused);
    }
    String oversized = Headers.check(headers);
    if (oversized != null) {
      return Admission.refused(StatusCode.INVALID_ARGUMENT, oversized);
    }
    LocalService service;
    try {
      service = plane.admit(destination, leaderTerm);
    } catch (NotLeaderException fenced) {
      return Admission.refused(StatusCode.ABORTED, fenced.getMessage());
    }
    if (service == null) {
      return Admission.refused(StatusCode.NOT_FOUND, destination + " is not registered here");
    }
    ServiceEndpoint endpoint = service.endpoint();
    if (!endpoint.tryAcquire()) {
      return Admission.refused(StatusCode.RESOURCE_EXHAUSTED, overloaded(endpoint));
    }
    return new Admission(source, destination, endpoint, null);
  }

  /** A call admitted (its endpoint's slot taken), or the status that refuses it. */
  private record Admission(
      ServiceUrl source, ServiceUrl destination, ServiceEndpoint endpoint, Status refusal) {
    static Admission refused(StatusCode code, String message) {
      return new Admission(null, null, null, status(code, message));
    }
  }

  private Mono<Void> refuse(
      InboundRequest request, PeerConnection connection, StatusCode code, String message) {
    if (request.oneWay()) {
      // No Response to carry the error: the sender hears of it through the data plane's report.
      return plane.report(
          connection, request.source(), request.destination(), request.method(), code, message);
    }
    metrics.requestRefused(code);
    return connection
        .send(response(request.streamId(), status(code, message), Reply.empty()))
        .onErrorResume(
            e -> {
              metrics.replyLost();
              log.debug("Could not refuse stream {} on {}: {}", request.streamId(), connection, e);
              return Mono.empty();
            });
  }

  private StreamTable<ServerCall> table(PeerConnection connection) {
    StreamTable<ServerCall> table = calls.get(connection);
    if (table != null) {
      return table;
    }
    StreamTable<ServerCall> fresh = new StreamTable<>();
    StreamTable<ServerCall> prior = calls.putIfAbsent(connection, fresh);
    if (prior != null) {
      return prior;
    }
    // Outside the map's update: a connection closed already completes onClose at once.
    connection.onClose().subscribe(null, null, () -> closed(connection));
    return fresh;
  }

  /** The peer is gone: nobody will read the replies, so the handlers' work is disposed. */
  private void closed(PeerConnection connection) {
    StreamTable<ServerCall> table = calls.remove(connection);
    if (table != null) {
      table.drain(ServerCall::dispose);
    }
  }

  private static String overloaded(ServiceEndpoint endpoint) {
    return endpoint.url()
        + " runs "
        + endpoint.maxConcurrent()
        + " handlers already (maxConcurrentHandlersPerService)";
  }

  static Status status(StatusCode code, String message) {
    return Status.newBuilder().setCode(code).setMessage(message).build();
  }

  static OutboundResponse response(long streamId, Status status, Reply reply) {
    return new OutboundResponse(streamId, status, reply.headers(), reply.payload());
  }

  /**
   * Where a call's outcome goes. A responder of a request from a peer also owns the request's
   * pooled payload (pooled payloads) and releases it when it no longer matters: the reply written,
   * the error sent, or the call abandoned.
   */
  private interface Responder {
    void reply(Reply reply);

    void fail(Throwable error);

    /** The call ended without an outcome (cancelled, its connection closed). */
    void abandon();
  }

  /**
   * Sends the outcome as a {@code Response} on the connection the request came on; it is also the
   * subscriber of the reply's send (a call replies once), which learns whether the reply was lost.
   * The request's pooled payload, which the reply may hold (an echo), is released once the reply's
   * send has ended: written into the outbound buffer, or failed.
   */
  private static final class ConnectionResponder extends SendFailureSubscriber
      implements Responder {

    private static final Status OK = Status.newBuilder().setCode(StatusCode.OK).build();

    private final PeerConnection connection;
    private final RequestRelease requestPayload;
    private final long streamId;
    private final MeshMetrics metrics;

    ConnectionResponder(PeerConnection connection, InboundRequest request, MeshMetrics metrics) {
      this.connection = connection;
      this.requestPayload = RequestRelease.of(request);
      this.streamId = request.streamId();
      this.metrics = metrics;
    }

    @Override
    public void reply(Reply reply) {
      connection.send(response(streamId, OK, reply)).subscribe(this);
    }

    @Override
    public void abandon() {
      requestPayload.release();
    }

    /** The reply has been written. */
    @Override
    public void onComplete() {
      requestPayload.release();
    }

    /** The reply's send failed. */
    @Override
    public void onError(Throwable error) {
      requestPayload.release();
      if (error instanceof OverloadedException) {
        // The reply is over the frame limit: the caller must still get an answer.
        fail(error);
      } else {
        metrics.replyLost();
        log.debug("The reply to stream {} on {} was lost: {}", streamId, connection, error);
      }
    }

    @Override
    public void fail(Throwable error) {
      requestPayload.release();
      connection
          .send(response(streamId, Statuses.toStatus(error), Reply.empty()))
          .subscribe(
              null,
              e -> {
                metrics.replyLost();
                log.debug("The error reply to {} on {} was lost: {}", streamId, connection, e);
              });
    }
  }

  /**
   * A notification from another process: nothing is sent back on success; a handler's failure is
   * logged and reported to the sender through the data plane (its {@code undelivered()} stream).
   */
  private final class OneWayResponder implements Responder {
    private final IncomingRequest request;
    private final InboundRequest wire;
    private final RequestRelease payload;
    private final PeerConnection connection;

    OneWayResponder(IncomingRequest request, InboundRequest wire, PeerConnection connection) {
      this.request = request;
      this.wire = wire;
      this.payload = RequestRelease.of(wire);
      this.connection = connection;
    }

    @Override
    public void reply(Reply reply) {
      payload.release();
    }

    @Override
    public void abandon() {
      payload.release();
    }

    @Override
    public void fail(Throwable error) {
      payload.release();
      log.warn(
          "Handler of {} {} failed on a notification from {}; reported to the sender",
          request.destination(),
          request.method(),
          request.source(),
          error);
      Status status = Statuses.toStatus(error);
      plane
          .report(
              connection,
              wire.source(),
              wire.destination(),
              wire.method(),
              status.getCode(),
              "the handler failed: " + status.getMessage())
          .subscribe();
    }
  }

  /**
   * Releases a request's pooled payload once, whoever comes first: the handler's outcome and its
   * abandonment (a deadline on the timer's thread, a cancel on the event loop) can race when the
   * handler runs elsewhere.
   */
  private static final class RequestRelease {
    private static final AtomicIntegerFieldUpdater<RequestRelease> RELEASED =
        AtomicIntegerFieldUpdater.newUpdater(RequestRelease.class, "released");

    /** For the requests whose payload is an array of their own: nothing to release. */
    private static final RequestRelease NOTHING = new RequestRelease(null);

    private final @Nullable InboundRequest request;
    private volatile int released;

    private RequestRelease(@Nullable InboundRequest request) {
      this.request = request;
    }

    static RequestRelease of(InboundRequest request) {
      return request.pooledPayload() == null ? NOTHING : new RequestRelease(request);
    }

    void release() {
      if (request != null && RELEASED.compareAndSet(this, 0, 1)) {
        request.release();
      }
    }
  }

  /** An in-process caller: the same status mapping as over the wire. */
  private record SinkResponder(MonoSink<Reply> sink, String context, IncomingRequest request)
      implements Responder {
    @Override
    public void reply(Reply reply) {
      sink.success(request.oneWay() ? null : reply);
    }

    @Override
    public void fail(Throwable error) {
      // A notification in process fails its caller too, as an in-process sendTo does.
      sink.error(Statuses.toException(Statuses.toStatus(error), context));
    }

    @Override
    public void abandon() {}
  }

  /**
   * One running handler: the subscriber of its reply {@code Mono}. Disposing it (a {@code Cancel},
   * the connection closing, an in-process caller cancelling) cancels the handler's subscription.
   *
   * <p>The call ends once, by whichever comes first: its outcome or its disposal ({@link
   * HandlerWork}). A call frees its slot before its outcome is sent, so a caller that has its
   * answer finds the handler's slot free (a next request is not refused for it).
   */
  private final class ServerCall extends HandlerWork<Reply> implements StreamTable.Entry {

    private final ServiceEndpoint endpoint;
    private final Responder responder;
    private final @Nullable StreamTable<ServerCall> table;
    private final long streamId;

    /**
     * A call; {@code table} is the connection's table of calls, where it is under {@code streamId}
     * until it ends, or {@code null} for a call that is not in one.
     */
    ServerCall(
        ServiceEndpoint endpoint,
        Responder responder,
        @Nullable StreamTable<ServerCall> table,
        long streamId) {
      this.endpoint = endpoint;
      this.responder = responder;
      this.table = table;
      this.streamId = streamId;
    }

    @Override
    public long streamId() {
      return streamId;
    }

    @Override
    void started(Subscription subscription) {
      subscription.request(Long.MAX_VALUE);
    }

    @Override
    public void onNext(Reply reply) {
      if (end()) {
        release();
        responder.reply(reply);
      }
    }

    @Override
    public void onComplete() {
      if (end()) {
        release();
        responder.reply(Reply.empty());
      }
    }

    @Override
    public void onError(Throwable error) {
      if (end()) {
        release();
        responder.fail(error);
      }
    }

    @Override
    void disposed() {
      release();
      responder.abandon();
    }

    /** What every call gives back once it has ended, before its outcome is sent. */
    private void release() {
      if (table != null) {
        table.remove(this);
      }
      endpoint.release();
      running.decrementAndGet();
    }
  }
}

package io.skymesh.mesh.internal.rpc;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.MeshTimeoutException;
import io.skymesh.core.exceptions.NotLeaderException;
import io.skymesh.mesh.internal.peer.DataPlane;
import io.skymesh.mesh.internal.peer.LocalService;
import io.skymesh.mesh.internal.peer.RequestFrames;
import io.skymesh.mesh.internal.peer.ServiceEndpoint;
import io.skymesh.mesh.internal.transport.InboundRequest;
import io.skymesh.mesh.internal.transport.InboundResponse;
import io.skymesh.mesh.internal.transport.PeerConnection;
import io.skymesh.mesh.rpc.ClientInterceptor;
import io.skymesh.mesh.rpc.IncomingRequest;
import io.skymesh.mesh.rpc.OutgoingRequest;
import io.skymesh.mesh.rpc.Reply;
import io.skymesh.mesh.rpc.RequestOptions;
import io.skymesh.proto.Cancel;
import io.skymesh.proto.GoAway;
import io.skymesh.proto.PeerFrame;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The caller's path of one request: client interceptors, then the deadline around everything below,
 * then the per-peer limiter, then the destination (in this process or over its peer connection, as
 * the data plane resolves it). Also the request / response layer the data plane's inbound switch
 * hands calls' frames to.
 */
public final class Calls implements RequestFrames {

  /** The timeout of a stream without a deadline, as interceptors see it. */
  public static final Duration NO_DEADLINE = Duration.ofNanos(Long.MAX_VALUE);

  /** The limiter key of services in this process. */
  private static final String IN_PROCESS = "this process";

  private final RpcConfig config;
  private final RpcClient client;
  private final RpcServer server;
  private final DataPlane plane;
  private final Function<OutgoingRequest, Mono<Reply>> chain;
  private final Map<String, PeerLimiter> limiters = new ConcurrentHashMap<>();

  /**
   * Creates the caller's path.
   *
   * @param config the settings
   * @param client the stream tables
   * @param server the server side, for in-process calls
   * @param plane where destinations are and the connections to them
   */
  public Calls(RpcConfig config, RpcClient client, RpcServer server, DataPlane plane) {
    this.config = config;
    this.client = client;
    this.server = server;
    this.plane = plane;
    this.chain = chain(config.clientInterceptors(), 0);
  }

  /**
   * The request as interceptors see it, the default timeout applied.
   *
   * @return the request
   */
  public OutgoingRequest outgoing(
      ServiceUrl source,
      ServiceUrl destination,
      String method,
      ByteString payload,
      RequestOptions options,
      boolean oneWay,
      long leaderTerm) {
    Duration timeout = options.timeout() != null ? options.timeout() : config.defaultTimeout();
    return new OutgoingRequest(
        source, destination, method, options.headers(), payload, timeout, oneWay, leaderTerm);
  }

  /**
   * Makes a call: lazy, each subscription one call.
   *
   * @param request the request
   * @return the reply (empty for a one-way request)
   */
  public Mono<Reply> call(OutgoingRequest request) {
    // Lazy already: each link of the chain defers.
    return plane
        .metrics()
        .call(request.destination().serviceName(), request.method(), chain.apply(request));
  }

  /**
   * The open of a stream as interceptors see it: without a timeout in {@code options}, the stream
   * has no deadline, written as {@link #NO_DEADLINE}.
   *
   * @return the open
   */
  public OutgoingRequest outgoingStream(
      ServiceUrl source,
      ServiceUrl destination,
      String method,
      ByteString payload,
      RequestOptions options,
      long leaderTerm) {
    Duration timeout = options.timeout() != null ? options.timeout() : NO_DEADLINE;
    return new OutgoingRequest(
        source, destination, method, options.headers(), payload, timeout, false, leaderTerm);
  }

  /**
   * Opens a stream (or a channel, with {@code requests}): lazy, each subscription one stream.
   *
   * @param request the open
   * @param requests a channel's requests, or null for a server stream
   * @return the replies
   */
  public Flux<Reply> stream(OutgoingRequest request, Publisher<ByteString> requests) {
    Flux<Reply> stream =
        Flux.defer(() -> streamChain(config.clientInterceptors(), 0, requests).apply(request));
    return plane.metrics().stream(request.destination().serviceName(), request.method(), stream);
  }

  @Override
  public Mono<Void> onStream(PeerFrame frame, PeerConnection connection) {
    if (frame.hasStreamOpen()) {
      return server.onStreamOpen(frame.getStreamOpen(), connection);
    }
    boolean toRequester =
        switch (frame.getBodyCase()) {
          case STREAM_ITEM -> frame.getStreamItem().getToRequester();
          case STREAM_CREDIT -> frame.getStreamCredit().getToRequester();
          case STREAM_END -> frame.getStreamEnd().getToRequester();
          case STREAM_CANCEL -> frame.getStreamCancel().getToRequester();
          default ->
              throw new IllegalArgumentException("not a stream frame: " + frame.getBodyCase());
        };
    return toRequester
        ? client.onStreamFrame(frame, connection)
        : server.onStreamFrame(frame, connection);
  }

  private Function<OutgoingRequest, Flux<Reply>> streamChain(
      List<ClientInterceptor> interceptors, int index, Publisher<ByteString> requests) {
    if (index == interceptors.size()) {
      return request -> streamTransport(request, requests);
    }
    ClientInterceptor interceptor = interceptors.get(index);
    Function<OutgoingRequest, Flux<Reply>> next = streamChain(interceptors, index + 1, requests);
    return request -> Flux.defer(() -> interceptor.interceptStream(request, next));
  }

  private Flux<Reply> streamTransport(OutgoingRequest request, Publisher<ByteString> requests) {
    return Flux.defer(
        () -> {
          long timeoutNanos = request.timeout().toNanos();
          boolean bounded = timeoutNanos != Long.MAX_VALUE;
          LocalService local;
          try {
            local = plane.admit(request.destination(), request.leaderTerm());
          } catch (NotLeaderException fenced) {
            return Flux.error(fenced);
          }
          Flux<Reply> call;
          if (local != null) {
            call = server.streamInProcess(local.endpoint(), incomingStream(request), requests);
          } else {
            long wireTimeout = bounded ? timeoutNanos : 0;
            int window = config.streamWindow();
            // A stream is opened far less often than a request is made: the connection's Mono
            // costs nothing worth the known-connection shortcut of remote().
            call =
                plane
                    .addressOf(request.destination())
                    .flatMap(plane::connection)
                    .flatMapMany(
                        connection ->
                            client.openStream(connection, request, requests, wireTimeout, window));
          }
          if (!bounded) {
            return call;
          }
          return Deadlines.within(
              call,
              timeoutNanos,
              () ->
                  new MeshTimeoutException(
                      request.destination()
                          + " "
                          + request.method()
                          + ": the stream did not end within "
                          + request.timeout().toMillis()
                          + " ms"));
        });
  }

  private static IncomingRequest incomingStream(OutgoingRequest request) {
    return new IncomingRequest(
        request.source(),
        request.destination(),
        request.method(),
        request.headers(),
        request.payload(),
        request.timeout().toNanos() == Long.MAX_VALUE ? Duration.ZERO : request.timeout(),
        false);
  }

  /** Requests of this process waiting for their reply; an instant reading, for tests. */
  public int pendingReplies() {
    return client.pending();
  }

  @Override
  public void forget(String address) {
    limiters.remove(address);
  }

  @Override
  public Mono<Void> idle(String address) {
    return client.idle(address);
  }

  @Override
  public Mono<Void> onRequest(InboundRequest request, PeerConnection connection) {
    return server.onRequest(request, connection);
  }

  @Override
  public Mono<Void> onResponse(InboundResponse response, PeerConnection connection) {
    return client.onResponse(response, connection);
  }

  @Override
  public Mono<Void> onCancel(Cancel cancel, PeerConnection connection) {
    return server.onCancel(cancel, connection);
  }

  @Override
  public Mono<Void> onGoAway(GoAway goAway, PeerConnection connection) {
    return client.onGoAway(goAway, connection);
  }

  /** The limiters of every destination process (and of this one), for metrics; a live view. */
  public java.util.Collection<PeerLimiter> limiters() {
    return java.util.Collections.unmodifiableCollection(limiters.values());
  }

  /** The limiter of an address, for tests and metrics; {@code null} if none. */
  public PeerLimiter existingLimiter(String address) {
    return limiters.get(address);
  }

  private Function<OutgoingRequest, Mono<Reply>> chain(
      List<ClientInterceptor> interceptors, int index) {
    if (index == interceptors.size()) {
      return this::transport;
    }
    ClientInterceptor interceptor = interceptors.get(index);
    Function<OutgoingRequest, Mono<Reply>> next = chain(interceptors, index + 1);
    return request -> Mono.defer(() -> interceptor.intercept(request, next));
  }

  private Mono<Reply> transport(OutgoingRequest request) {
    return Mono.defer(
        () -> {
          Duration timeout = request.timeout();
          long deadline = System.nanoTime() + timeout.toNanos();
          LocalService local;
          try {
            local = plane.admit(request.destination(), request.leaderTerm());
          } catch (NotLeaderException fenced) {
            return within(Mono.error(fenced), request, timeout);
          }
          Mono<Reply> call;
          if (local != null) {
            ServiceEndpoint endpoint = local.endpoint();
            call =
                limiter(IN_PROCESS)
                    .run(() -> server.callInProcess(endpoint, incoming(request, deadline)));
          } else {
            String known = plane.knownAddress(request.destination());
            call =
                known != null
                    ? limiter(known).run(() -> remote(known, request, deadline))
                    : plane
                        .addressOf(request.destination())
                        .flatMap(
                            address ->
                                limiter(address).run(() -> remote(address, request, deadline)));
          }
          return within(call, request, timeout);
        });
  }

  private static Mono<Reply> within(Mono<Reply> call, OutgoingRequest request, Duration timeout) {
    return Deadlines.within(
        call,
        timeout.toNanos(),
        () ->
            new MeshTimeoutException(
                request.destination()
                    + " "
                    + request.method()
                    + ": no reply within "
                    + timeout.toMillis()
                    + " ms"));
  }

  /**
   * The call on the open connection to an address: the data plane's cached one when it has it, so
   * that a request skips the transport's dial table and its {@code Mono} (measured on the request
   * path).
   */
  private Mono<Reply> remote(String address, OutgoingRequest request, long deadline) {
    PeerConnection known = plane.openConnection(address);
    if (known != null) {
      return client.call(known, request, deadline);
    }
    return plane.connection(address).flatMap(fresh -> client.call(fresh, request, deadline));
  }

  private PeerLimiter limiter(String address) {
    PeerLimiter limiter = limiters.get(address);
    if (limiter != null) {
      return limiter;
    }
    return limiters.computeIfAbsent(
        address, a -> new PeerLimiter(a, config.maxInFlightPerPeer(), config.maxPendingPerPeer()));
  }

  private static IncomingRequest incoming(OutgoingRequest request, long deadline) {
    return new IncomingRequest(
        request.source(),
        request.destination(),
        request.method(),
        request.headers(),
        request.payload(),
        Duration.ofNanos(Math.max(1, deadline - System.nanoTime())),
        request.oneWay());
  }
}

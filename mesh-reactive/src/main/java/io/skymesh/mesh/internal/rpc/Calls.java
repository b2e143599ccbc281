package io.skymesh.mesh.internal.rpc;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.MeshTimeoutException;
import io.skymesh.core.exceptions.NotLeaderException;
import io.skymesh.mesh.internal.transport.PeerConnection;
import io.skymesh.mesh.rpc.ClientInterceptor;
import io.skymesh.mesh.rpc.IncomingRequest;
import io.skymesh.mesh.rpc.OutgoingRequest;
import io.skymesh.mesh.rpc.Reply;
import io.skymesh.mesh.rpc.RequestOptions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import reactor.core.publisher.Mono;

/**
 * The caller's path of one request: client interceptors, then the deadline around everything below,
 * then the per-peer limiter, then the destination (in this process or over its peer connection).
 */
public final class Calls {

  /** The limiter key of services in this process. */
  private static final String IN_PROCESS = "this process";

  private final RpcConfig config;
  private final RpcClient client;
  private final RpcServer server;
  private final Function<ServiceUrl, ServiceEndpoint> local;
  private final Function<ServiceUrl, Mono<String>> addressOf;
  private final Function<String, Mono<PeerConnection>> connect;
  private final Function<OutgoingRequest, Mono<Reply>> chain;
  private final Map<String, PeerLimiter> limiters = new ConcurrentHashMap<>();
  private final Map<String, PeerConnection> connections = new ConcurrentHashMap<>();

  /**
   * Creates the caller's path.
   *
   * @param config the settings
   * @param client the stream tables
   * @param server the server side, for in-process calls
   * @param local the live service of this process at a url, or {@code null}
   * @param addressOf the listen address of a live instance's process, or {@code
   *     ServiceNotFoundException}
   * @param connect the connection to an address
   */
  public Calls(
      RpcConfig config,
      RpcClient client,
      RpcServer server,
      Function<ServiceUrl, ServiceEndpoint> local,
      Function<ServiceUrl, Mono<String>> addressOf,
      Function<String, Mono<PeerConnection>> connect) {
    this.config = config;
    this.client = client;
    this.server = server;
    this.local = local;
    this.addressOf = addressOf;
    this.connect = connect;
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
    return chain.apply(request);
  }

  /** Forgets the limiter and the connection of a process that left. */
  public void forget(String address) {
    limiters.remove(address);
    connections.remove(address);
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
          ServiceEndpoint endpoint = local.apply(request.destination());
          Mono<Reply> call;
          String fenced =
              endpoint == null || request.leaderTerm() == 0
                  ? null
                  : server.fencing().problem(request.destination(), request.leaderTerm());
          if (fenced != null) {
            call = Mono.error(new NotLeaderException(fenced));
          } else if (endpoint != null) {
            call =
                limiter(IN_PROCESS)
                    .run(() -> server.callInProcess(endpoint, incoming(request, deadline)));
          } else {
            call =
                addressOf
                    .apply(request.destination())
                    .flatMap(
                        address -> limiter(address).run(() -> remote(address, request, deadline)));
          }
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
        });
  }

  /**
   * The call on the open connection to an address, remembered so that a request skips the
   * transport's dial table and its {@code Mono} (measured on the request path).
   */
  private Mono<Reply> remote(String address, OutgoingRequest request, long deadline) {
    PeerConnection known = connections.get(address);
    if (known != null && known.isOpen()) {
      return client.call(known, request, deadline);
    }
    return connect
        .apply(address)
        .flatMap(
            fresh -> {
              connections.put(address, fresh);
              return client.call(fresh, request, deadline);
            });
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

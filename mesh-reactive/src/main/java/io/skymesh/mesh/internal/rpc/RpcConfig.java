package io.skymesh.mesh.internal.rpc;

import io.skymesh.mesh.rpc.ClientInterceptor;
import io.skymesh.mesh.rpc.ServerInterceptor;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * A mesh's request / response settings, built by {@code MeshBuilder}.
 *
 * @param defaultTimeout the timeout of a request that sets none
 * @param maxInFlightPerPeer requests in flight per peer process before they queue
 * @param maxPendingPerPeer requests queued per peer process before they fail with overload
 * @param maxConcurrentHandlers handlers running at once per service before requests are refused
 * @param streamWindow the most items of a stream or channel that may be in flight to one receiver:
 *     the credit it grants ahead of its subscriber's consumption
 * @param clientInterceptors outermost first
 * @param serverInterceptors outermost first
 * @param pooledPayloads whether request, reply and message payloads received from peers may be held
 *     in pooled arrays, valid for a limited time (see {@code MeshBuilder.pooledPayloads})
 */
public record RpcConfig(
    Duration defaultTimeout,
    int maxInFlightPerPeer,
    int maxPendingPerPeer,
    int maxConcurrentHandlers,
    int streamWindow,
    List<ClientInterceptor> clientInterceptors,
    List<ServerInterceptor> serverInterceptors,
    boolean pooledPayloads) {

  /** The default of {@link #defaultTimeout}: 30 s. */
  public static final Duration DEFAULT_REQUEST_TIMEOUT = Duration.ofSeconds(30);

  /** The default of {@link #maxInFlightPerPeer}. */
  public static final int DEFAULT_MAX_IN_FLIGHT_PER_PEER = 1024;

  /** The default of {@link #maxPendingPerPeer}. */
  public static final int DEFAULT_MAX_PENDING_PER_PEER = 1024;

  /** The default of {@link #maxConcurrentHandlers}. */
  public static final int DEFAULT_MAX_CONCURRENT_HANDLERS = 1024;

  /** The default of {@link #streamWindow}, as Reactor's default prefetch. */
  public static final int DEFAULT_STREAM_WINDOW = 256;

  /** Copies the lists. */
  public RpcConfig {
    Objects.requireNonNull(defaultTimeout, "defaultTimeout");
    clientInterceptors = List.copyOf(clientInterceptors);
    serverInterceptors = List.copyOf(serverInterceptors);
  }

  /** The defaults, without interceptors. */
  public static RpcConfig defaults() {
    return new RpcConfig(
        DEFAULT_REQUEST_TIMEOUT,
        DEFAULT_MAX_IN_FLIGHT_PER_PEER,
        DEFAULT_MAX_PENDING_PER_PEER,
        DEFAULT_MAX_CONCURRENT_HANDLERS,
        DEFAULT_STREAM_WINDOW,
        List.of(),
        List.of(),
        false);
  }
}

package io.skymesh.mesh.internal;

import io.skymesh.mesh.internal.transport.PeerTransport;
import io.skymesh.mesh.internal.transport.PeerTransportConfig;
import io.skymesh.proto.PeerFrame;
import java.time.Duration;
import java.util.function.Function;
import reactor.core.publisher.Mono;

/** {@link PeerLinks} over the {@link PeerTransport}. */
final class TransportPeerLinks implements PeerLinks {

  private final PeerTransportConfig config;
  private volatile PeerTransport transport;

  private TransportPeerLinks(PeerTransportConfig config) {
    this.config = config;
  }

  static TransportPeerLinks create(MeshConfig mesh, String processId) {
    return new TransportPeerLinks(
        PeerTransportConfig.builder()
            .host(mesh.host())
            .port(mesh.port())
            .processId(processId)
            .appId(mesh.appId())
            .maxFrameLength(mesh.maxFrameLength())
            .build());
  }

  @Override
  public Mono<String> bind(Function<PeerFrame, Mono<Void>> dispatcher) {
    return Mono.defer(
        () -> {
          transport = PeerTransport.create(config, inbound -> dispatcher.apply(inbound.frame()));
          return transport.bind().map(PeerTransport::listenAddress);
        });
  }

  @Override
  public Mono<Void> send(String address, PeerFrame frame) {
    return transport.connection(address).flatMap(connection -> connection.send(frame));
  }

  @Override
  public void release(String address) {
    transport.release(address).subscribe();
  }

  @Override
  public Mono<Void> closeGracefully(Duration timeout) {
    PeerTransport bound = transport;
    return bound == null ? Mono.empty() : bound.closeGracefully(timeout);
  }

  @Override
  public Mono<Void> close() {
    PeerTransport bound = transport;
    return bound == null ? Mono.empty() : bound.close();
  }

  /** The transport, once bound; for metrics and tests. */
  PeerTransport transport() {
    return transport;
  }
}

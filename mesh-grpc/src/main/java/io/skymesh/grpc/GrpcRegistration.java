package io.skymesh.grpc;

import io.grpc.Server;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.ServiceOptions;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * A started gRPC server registered in the mesh under a ServiceUrl, its {@code host:port} in the
 * instance attribute {@link SkymeshAttributes#GRPC_ADDRESS}, so that channels on {@code
 * skymesh:///app.env.service} send to it.
 *
 * <pre>{@code
 * Server server = Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create())
 *     .addService(greeter).build().start();
 * GrpcRegistration registration =
 *     GrpcRegistration.register(mesh, server, ServiceUrl.parse("game.zone1.greeter/1")).block();
 * ...
 * registration.shutdown(Duration.ofSeconds(1)).block(); // leave the mesh, drain, stop the server
 * }</pre>
 *
 * <p>gRPC's {@link Server} has no shutdown callback, so the registration cannot notice a server
 * shut down behind its back. Shut the server down through {@link #shutdown(Duration)}: it leaves
 * the mesh first, waits for the channels to hear it, and only then shuts the server down, so no
 * call is sent to a server that has stopped accepting them. The mesh instance itself receives no
 * mesh messages (its handler drops them); it exists to be resolved.
 */
public final class GrpcRegistration {

  private final Server server;
  private final MeshService service;
  private final String address;

  private GrpcRegistration(Server server, MeshService service, String address) {
    this.server = server;
    this.service = service;
    this.address = address;
  }

  /**
   * Registers a started server under {@code url} with default options, advertising the host of the
   * mesh's own listen address.
   *
   * @see #register(Mesh, Server, ServiceUrl, String, ServiceOptions)
   */
  public static Mono<GrpcRegistration> register(Mesh mesh, Server server, ServiceUrl url) {
    return register(mesh, server, url, ServiceOptions.defaults());
  }

  /**
   * Registers a started server under {@code url}, advertising the host of the mesh's own listen
   * address (the address the mesh registered for its peers, so reachable by them).
   *
   * @see #register(Mesh, Server, ServiceUrl, String, ServiceOptions)
   */
  public static Mono<GrpcRegistration> register(
      Mesh mesh, Server server, ServiceUrl url, ServiceOptions options) {
    Objects.requireNonNull(mesh, "mesh");
    return register(mesh, server, url, host(mesh.listenAddress()), options);
  }

  /**
   * Registers a started server under {@code url} as {@code host:server.getPort()}.
   *
   * @param mesh the mesh to register in; {@code url}'s appId must be its
   * @param server a started server
   * @param url the instance's ServiceUrl
   * @param host the host (an IP literal, so that clients resolve nothing) clients dial
   * @param options weight and attributes; {@link SkymeshAttributes#GRPC_ADDRESS} is added
   * @return the registration once the name server has acknowledged it; fails with {@code
   *     IllegalStateException} if the server is not started, or as {@link Mesh#register} fails
   */
  public static Mono<GrpcRegistration> register(
      Mesh mesh, Server server, ServiceUrl url, String host, ServiceOptions options) {
    Objects.requireNonNull(mesh, "mesh");
    Objects.requireNonNull(server, "server");
    Objects.requireNonNull(url, "url");
    Objects.requireNonNull(host, "host");
    Objects.requireNonNull(options, "options");
    return Mono.defer(
        () -> {
          int port;
          try {
            port = server.getPort();
          } catch (IllegalStateException e) {
            return Mono.error(
                new IllegalStateException("server: not started (expected: a started server)", e));
          }
          if (port < 1 || server.isShutdown()) {
            return Mono.error(
                new IllegalStateException(
                    "server: not listening on a TCP port (expected: a started server), port "
                        + port));
          }
          String address = (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
          Map<String, String> attributes = new HashMap<>(options.attributes());
          attributes.put(SkymeshAttributes.GRPC_ADDRESS, address);
          return mesh.register(url, message -> Mono.empty(), options.withAttributes(attributes))
              .map(service -> new GrpcRegistration(server, service, address));
        });
  }

  /** The registered instance's ServiceUrl. */
  public ServiceUrl url() {
    return service.url();
  }

  /** The advertised {@code host:port}. */
  public String address() {
    return address;
  }

  /** The server. */
  public Server server() {
    return server;
  }

  /**
   * Leaves the mesh; the server keeps serving the calls it gets meanwhile. Idempotent.
   *
   * @return completes when the name server has acknowledged the deregistration
   */
  public Mono<Void> deregister() {
    return service.close();
  }

  /**
   * Leaves the mesh, waits {@code drain} for channels to hear it, then shuts the server down
   * gracefully (calls in progress finish; {@code server.awaitTermination} waits for them).
   *
   * @param drain how long channels get to stop picking this server; a second is plenty on a LAN
   * @return completes once {@code server.shutdown()} has returned (it is called on {@code
   *     Schedulers.boundedElastic()}, because it waits for the listener to close)
   */
  public Mono<Void> shutdown(Duration drain) {
    Objects.requireNonNull(drain, "drain");
    return deregister()
        .onErrorResume(e -> Mono.empty())
        .then(Mono.delay(drain))
        // Server.shutdown() waits for the listener to close: not on a non-blocking thread.
        .then(Mono.fromRunnable(server::shutdown).subscribeOn(Schedulers.boundedElastic()))
        .then();
  }

  private static String host(String hostPort) {
    int colon = hostPort.lastIndexOf(':');
    String host = colon > 0 ? hostPort.substring(0, colon) : hostPort;
    return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
  }

  @Override
  public String toString() {
    return "GrpcRegistration{" + service.url() + " at " + address + "}";
  }
}

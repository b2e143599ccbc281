package io.skymesh.mesh;

import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import java.time.Duration;
import reactor.core.publisher.Mono;

/**
 * A process's membership of the mesh, one per process per appId: it owns the session with the name
 * server, one peer listener (registered with the address it really got), and the connections to
 * peers.
 *
 * <pre>{@code
 * Mesh mesh = Mesh.builder("game").nameServer("127.0.0.1:9099").start().block();
 * MeshService lobby = mesh.register(ServiceUrl.parse("game.zone1.lobby/1"), handler).block();
 * mesh.router(ServiceName.parse("game.zone1.chat")).members().subscribe(System.out::println);
 * }</pre>
 */
public interface Mesh {

  /**
   * A builder of a mesh for one application.
   *
   * @param appId the application; every service this mesh registers must belong to it
   * @return a builder
   */
  static MeshBuilder builder(String appId) {
    return new MeshBuilder(appId);
  }

  /** The application this mesh acts for. */
  String appId();

  /** This process's id in the mesh, unique per running mesh. */
  String processId();

  /** The address peers connect to, {@code host:port}, as registered. */
  String listenAddress();

  /**
   * Registers an instance with weight 1 and no attributes.
   *
   * @see #register(ServiceUrl, MessageHandler, ServiceOptions)
   */
  default Mono<MeshService> register(ServiceUrl url, MessageHandler handler) {
    return register(url, handler, ServiceOptions.defaults());
  }

  /**
   * Registers an instance with the name server. The instance stays registered across name-server
   * reconnections until closed.
   *
   * @param url the instance's ServiceUrl; its appId must be this mesh's
   * @param handler receives the messages sent to it
   * @param options weight and attributes
   * @return the service once the name server has acknowledged it; fails with {@code
   *     AlreadyRegisteredException} if the url is live elsewhere, {@code IllegalArgumentException}
   *     for another appId
   */
  Mono<MeshService> register(ServiceUrl url, MessageHandler handler, ServiceOptions options);

  /**
   * The router of a service: its membership as hot streams. Starts watching it on first call.
   *
   * @param serviceName the service
   * @return the router, the same one for every call with this name
   */
  NameRouter router(ServiceName serviceName);

  /**
   * Closes gracefully: deregisters every service (waiting for the name server's acknowledgement),
   * tells peers it is going away, lets queued frames drain for at most {@code timeout}, then closes
   * every connection and the listener.
   *
   * @param timeout the longest to wait for acknowledgements and draining
   * @return completes when closed
   */
  Mono<Void> closeGracefully(Duration timeout);

  /**
   * Closes at once, without waiting for acknowledgements or draining.
   *
   * @return completes when closed
   */
  Mono<Void> close();

  /**
   * Closes this mesh gracefully when the JVM is asked to stop (SIGINT, SIGTERM): installs a
   * shutdown hook that waits for {@link #closeGracefully(Duration)}. The hook thread blocks: it is
   * the documented blocking edge for {@code main} methods.
   *
   * @param timeout the graceful close's timeout
   * @return this mesh
   */
  Mesh closeOnShutdown(Duration timeout);

  /**
   * The state of the name-server session now: {@code OPEN} and its node, {@code CONNECTING} while
   * it is being opened or reopened after a loss, {@code CLOSED} once the mesh closes. An instant
   * reading that never blocks; for health checks ({@code skymesh-spring-boot} reports it).
   *
   * @return the session's state
   */
  MeshSession session();

  // --- KV config ---------------------------------------------------------------------------------

  /**
   * The name server's KV config, over this mesh's session.
   *
   * <pre>{@code
   * mesh.config().getDuration("game/lobby/timeout", Duration.ofSeconds(5)).subscribe(...);
   * }</pre>
   *
   * @return the config store, the same one for every call
   */
  ConfigStore config();
}

package io.skymesh.spring.boot;

import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.MessageHandler;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.context.SmartLifecycle;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/**
 * Registers the application's {@link MeshEndpoint}s when the context starts, and closes the mesh
 * gracefully (deregistering them, waiting for the name server's acknowledgement, draining peers)
 * when it stops.
 *
 * <p>Phase {@link #PHASE}: it starts before the web server and stops after it, so the endpoints are
 * registered before HTTP traffic arrives and HTTP requests that call the mesh finish before the
 * mesh closes. {@link #start()} blocks the starting thread until every endpoint is registered (the
 * context is not ready before); {@link #stop(Runnable)} does not block, and Spring waits for its
 * callback.
 */
public final class MeshEndpointRegistrar implements SmartLifecycle, DisposableBean {

  /** Below the web server's phases: start before it, stop after it. */
  public static final int PHASE = SmartLifecycle.DEFAULT_PHASE - 4096;

  private static final Logger log = LoggerFactory.getLogger(MeshEndpointRegistrar.class);

  private final Mesh mesh;
  private final List<MeshEndpoint> endpoints;
  private final Duration startTimeout;
  private final Duration closeTimeout;
  private final Map<ServiceUrl, MeshService> services = new ConcurrentHashMap<>();
  private volatile boolean running;
  private volatile boolean closed;

  /**
   * Creates the registrar.
   *
   * @param mesh the mesh to register in; this registrar closes it
   * @param endpoints the endpoints to register
   * @param startTimeout how long registering may take
   * @param closeTimeout the graceful close's timeout
   */
  public MeshEndpointRegistrar(
      Mesh mesh, List<MeshEndpoint> endpoints, Duration startTimeout, Duration closeTimeout) {
    this.mesh = Objects.requireNonNull(mesh, "mesh");
    this.endpoints = List.copyOf(endpoints);
    this.startTimeout = Objects.requireNonNull(startTimeout, "startTimeout");
    this.closeTimeout = Objects.requireNonNull(closeTimeout, "closeTimeout");
  }

  /**
   * The registered service of an endpoint, to send from.
   *
   * @param url the endpoint's ServiceUrl
   * @return the service while the context runs; empty before it starts and after it stops
   */
  public Optional<MeshService> service(ServiceUrl url) {
    return Optional.ofNullable(services.get(url));
  }

  /** Registers every endpoint; blocks the starting thread (Spring's) until all are registered. */
  @Override
  public void start() {
    Flux.fromIterable(endpoints)
        .flatMap(this::register)
        .doOnNext(service -> services.put(service.url(), service))
        .then()
        .block(startTimeout);
    running = true;
    log.info("Registered {} mesh endpoint(s) in {}", endpoints.size(), mesh.processId());
  }

  private Mono<MeshService> register(MeshEndpoint endpoint) {
    if (endpoint.handler() instanceof MeshEndpoint.Plain plain) {
      return mesh.register(endpoint.url(), plain.handler(), endpoint.options());
    }
    // Messages can arrive as soon as the name server has acknowledged, before this side has the
    // service in hand: the handler waits for it.
    Sinks.One<MeshService> self = Sinks.one();
    Mono<MeshService> registered = self.asMono();
    MessageHandler handler =
        message -> registered.flatMap(service -> endpoint.handler().handle(service, message));
    return mesh.register(endpoint.url(), handler, endpoint.options())
        .doOnNext(service -> self.tryEmitValue(service));
  }

  /** Closes the mesh gracefully and calls {@code callback} when done, without blocking. */
  @Override
  public void stop(Runnable callback) {
    running = false;
    close()
        .doFinally(signal -> callback.run())
        .subscribe(null, e -> log.warn("Closing the mesh failed", e));
  }

  /** Closes the mesh gracefully, blocking the calling thread. */
  @Override
  public void stop() {
    running = false;
    close().onErrorResume(e -> Mono.empty()).block(closeTimeout.plusSeconds(5));
  }

  private Mono<Void> close() {
    return Mono.defer(
        () -> {
          if (closed) {
            return Mono.empty();
          }
          closed = true;
          services.clear();
          return mesh.closeGracefully(closeTimeout);
        });
  }

  /** Closes the mesh at once if the context is torn down without having stopped it. */
  @Override
  public void destroy() {
    if (!closed) {
      closed = true;
      mesh.close().onErrorResume(e -> Mono.empty()).block(closeTimeout);
    }
  }

  @Override
  public boolean isRunning() {
    return running;
  }

  @Override
  public int getPhase() {
    return PHASE;
  }
}

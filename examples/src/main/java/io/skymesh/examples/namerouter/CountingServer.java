package io.skymesh.examples.namerouter;

import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * A server that counts the messages it receives and publishes the count as its {@value #RECEIVED}
 * attribute, at most once per publishing interval and only when it changed.
 */
public final class CountingServer {

  /** The attribute holding the number of messages received. */
  public static final String RECEIVED = "received";

  private final MeshService service;
  private final Disposable publishing;

  private CountingServer(MeshService service, Disposable publishing) {
    this.service = service;
    this.publishing = publishing;
  }

  /**
   * Registers a counting server and starts publishing its count.
   *
   * @param mesh the mesh to register in
   * @param url the server's ServiceUrl
   * @param interval how often the count may be published
   * @return the running server
   */
  public static Mono<CountingServer> start(Mesh mesh, ServiceUrl url, Duration interval) {
    AtomicLong received = new AtomicLong();
    return mesh.register(
            url,
            message -> {
              received.incrementAndGet();
              return Mono.empty();
            })
        .map(
            service ->
                new CountingServer(
                    service,
                    Flux.interval(interval)
                        // A tick while the last update is still on its way is skipped.
                        .onBackpressureDrop()
                        .map(tick -> received.get())
                        .distinctUntilChanged()
                        .concatMap(
                            count -> service.updateAttributes(Map.of(RECEIVED, count.toString())))
                        .subscribe()));
  }

  /** The server's ServiceUrl. */
  public ServiceUrl url() {
    return service.url();
  }

  /**
   * Stops publishing and leaves the mesh.
   *
   * @return completes when deregistered
   */
  public Mono<Void> close() {
    publishing.dispose();
    return service.close();
  }
}

package io.skymesh.nameserver.cli;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.skymesh.nameserver.NameServer;
import io.skymesh.nameserver.NameServerMeters;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;

/**
 * {@code serve --metrics-port}: an HTTP server beside the name server, on Reactor Netty, with
 * {@code GET /metrics} (the {@link NameServerMeters} in Prometheus text) and {@code GET /health}
 * ({@code 200 {"status":"UP"}} while {@link NameServer#checkHealth()} passes, {@code 503
 * {"status":"DOWN","reason":...}} when it fails). It closes when the name server does.
 */
final class MetricsEndpoint {

  static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

  private static final String UP = "{\"status\":\"UP\"}";

  private MetricsEndpoint() {}

  /** The body of a failed health check: the reason, as a JSON string. */
  static String down(String reason) {
    StringBuilder json = new StringBuilder("{\"status\":\"DOWN\",\"reason\":\"");
    for (char c : String.valueOf(reason).toCharArray()) {
      switch (c) {
        case '"' -> json.append("\\\"");
        case '\\' -> json.append("\\\\");
        default -> {
          if (c < 0x20) {
            json.append(String.format("\\u%04x", (int) c));
          } else {
            json.append(c);
          }
        }
      }
    }
    return json.append("\"}").toString();
  }

  /**
   * Binds the endpoint for {@code server}.
   *
   * @return the bound HTTP server; errors if the port cannot be bound
   */
  static Mono<DisposableServer> start(NameServer server, String host, int port) {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    new NameServerMeters(server).bindTo(registry);
    return HttpServer.create()
        .host(host)
        .port(port)
        .route(
            routes ->
                routes
                    .get(
                        "/metrics",
                        (request, response) ->
                            response
                                .header(HttpHeaderNames.CONTENT_TYPE, PROMETHEUS_TEXT)
                                .sendString(
                                    // The registry's scrape takes its own locks: off the event
                                    // loop.
                                    Mono.fromCallable(registry::scrape)
                                        .subscribeOn(Schedulers.boundedElastic())))
                    .get(
                        "/health",
                        (request, response) ->
                            server
                                .checkHealth()
                                .thenReturn(UP)
                                .onErrorResume(
                                    error -> {
                                      response.status(HttpResponseStatus.SERVICE_UNAVAILABLE);
                                      return Mono.just(down(error.getMessage()));
                                    })
                                .flatMap(
                                    body ->
                                        response
                                            .header(
                                                HttpHeaderNames.CONTENT_TYPE, "application/json")
                                            .sendString(Mono.just(body))
                                            .then())))
        .bind()
        .cast(DisposableServer.class)
        .doOnNext(
            http ->
                server
                    .onClose()
                    .onErrorResume(e -> Mono.empty())
                    .doFinally(
                        signal -> {
                          http.dispose();
                          registry.close();
                        })
                    .subscribe())
        .doOnError(e -> registry.close());
  }
}

package io.skymesh.nameserver.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.skymesh.nameserver.NameServer;
import io.skymesh.nameserver.NameServerMeters;
import io.skymesh.nameserver.client.NameServerConnection;
import io.skymesh.proto.Instance;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.OpenSession;
import io.skymesh.proto.Register;
import io.skymesh.proto.Watch;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import reactor.netty.http.client.HttpClient;
import reactor.util.function.Tuple2;

/** {@code serve --metrics-port}, and the meters it serves, over real TCP and HTTP. */
class MetricsEndpointTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  @Test
  void theMetersFollowTheServersSessionsInstancesAndWatches() {
    NameServer server = NameServer.builder().host("127.0.0.1").port(0).start().block(TIMEOUT);
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    new NameServerMeters(server).bindTo(registry);
    NameServerConnection client = connect(server.port());
    try {
      assertThat(gauge(registry, "sessions")).isZero();
      client.request(openSession()).block(TIMEOUT);
      long revision =
          client
              .request(
                  NameClientFrame.newBuilder()
                      .setRegister(
                          Register.newBuilder()
                              .setInstance(
                                  Instance.newBuilder()
                                      .setUrl("game.zone1.lobby/1")
                                      .setAddress("127.0.0.1:7000"))))
              .block(TIMEOUT)
              .getRevision();
      client
          .request(
              NameClientFrame.newBuilder()
                  .setWatch(Watch.newBuilder().setWatchId(1).setServiceName("game.zone1.lobby")))
          .block(TIMEOUT);

      await()
          .atMost(TIMEOUT)
          .untilAsserted(
              () -> {
                assertThat(gauge(registry, "sessions")).isEqualTo(1);
                assertThat(gauge(registry, "connections")).isEqualTo(1);
                assertThat(gauge(registry, "instances")).isEqualTo(1);
                assertThat(gauge(registry, "watches")).isEqualTo(1);
                assertThat(gauge(registry, "revision")).isEqualTo(revision);
              });
      assertThat(registry.get(NameServerMeters.PREFIX + "resyncs").functionCounter().count())
          .isZero();
      assertThat(
              registry.get(NameServerMeters.PREFIX + "sessions").gauge().getId().getTag("server"))
          .isEqualTo("127.0.0.1:" + server.port());

      client.close().block(TIMEOUT);
      await()
          .atMost(TIMEOUT)
          .untilAsserted(
              () -> {
                assertThat(gauge(registry, "sessions")).isZero();
                assertThat(gauge(registry, "instances")).isZero();
                assertThat(gauge(registry, "watches")).isZero();
              });
    } finally {
      client.dispose();
      server.closeNow(TIMEOUT);
    }
  }

  @Test
  void serveWithAMetricsPortServesPrometheusTextAndHealthUntilTheServerCloses() {
    ServeCommand serve = CliRun.serveCommand("serve", "--port", "0", "--metrics-port", "0");
    NameServer server = serve.start().block(TIMEOUT);
    InetSocketAddress http = serve.metricsAddress;
    NameServerConnection client = connect(server.port());
    try {
      client.request(openSession()).block(TIMEOUT);
      await()
          .atMost(TIMEOUT)
          .untilAsserted(
              () ->
                  assertThat(samples(get(http, "/metrics").getT2()))
                      .containsEntry(
                          "skymesh_nameserver_sessions{server=\"127.0.0.1:" + server.port() + "\"}",
                          1.0));
      Tuple2<Integer, String> metrics = get(http, "/metrics");
      assertThat(metrics.getT1()).isEqualTo(200);
      Map<String, Double> samples = samples(metrics.getT2());
      for (String name :
          List.of(
              "skymesh_nameserver_sessions",
              "skymesh_nameserver_connections",
              "skymesh_nameserver_instances",
              "skymesh_nameserver_watches",
              "skymesh_nameserver_revision",
              "skymesh_nameserver_queued_frames",
              "skymesh_nameserver_queued_frames_peak",
              "skymesh_nameserver_resyncs_total",
              "skymesh_nameserver_requests_total",
              "skymesh_nameserver_refusals_total",
              "skymesh_nameserver_events_total")) {
        assertThat(samples.keySet()).as(name).anyMatch(key -> key.startsWith(name + "{"));
      }
      assertThat(metrics.getT2()).contains("# TYPE skymesh_nameserver_resyncs_total counter");
      assertThat(samples)
          .containsEntry(
              "skymesh_nameserver_requests_total{kind=\"open_session\",server=\"127.0.0.1:"
                  + server.port()
                  + "\"}",
              1.0);

      Tuple2<Integer, String> health = get(http, "/health");
      assertThat(health.getT1()).isEqualTo(200);
      assertThat(health.getT2()).isEqualTo("{\"status\":\"UP\"}");
      assertThat(get(http, "/nothing").getT1()).isEqualTo(404);
    } finally {
      client.dispose();
      server.closeNow(TIMEOUT);
    }
    await()
        .atMost(TIMEOUT)
        .until(
            () ->
                HttpClient.create()
                    .get()
                    .uri("http://127.0.0.1:" + http.getPort() + "/health")
                    .response()
                    .map(r -> true)
                    .onErrorReturn(false)
                    .block(TIMEOUT)
                    .equals(false));
  }

  @Test
  void aBadMetricsPortIsAUsageError() {
    CliRun run = CliRun.of("serve", "--port", "0", "--metrics-port", "70000");

    assertThat(run.status()).isEqualTo(2);
    assertThat(run.err()).contains("metrics port: 70000 (expected: 0..65535)");
  }

  private static NameServerConnection connect(int port) {
    return NameServerConnection.builder("127.0.0.1", port).connect().block(TIMEOUT);
  }

  private static NameClientFrame.Builder openSession() {
    return NameClientFrame.newBuilder()
        .setOpenSession(OpenSession.newBuilder().setProtocolVersion(1).setAppId("game"));
  }

  private static double gauge(SimpleMeterRegistry registry, String name) {
    return registry.get(NameServerMeters.PREFIX + name).gauge().value();
  }

  private static Tuple2<Integer, String> get(InetSocketAddress http, String path) {
    return HttpClient.create()
        .get()
        .uri("http://127.0.0.1:" + http.getPort() + path)
        .responseSingle(
            (response, body) ->
                body.asString()
                    .defaultIfEmpty("")
                    .map(text -> reactor.util.function.Tuples.of(response.status().code(), text)))
        .block(TIMEOUT);
  }

  /** Prometheus text as sample name with labels to value; every line must parse. */
  private static Map<String, Double> samples(String text) {
    return Arrays.stream(text.split("\\n"))
        .filter(line -> !line.isBlank() && !line.startsWith("#"))
        .map(
            line -> {
              int space = line.lastIndexOf(' ');
              assertThat(space).as("a sample line: %s", line).isPositive();
              return new String[] {line.substring(0, space), line.substring(space + 1)};
            })
        .collect(
            Collectors.toMap(
                parts -> parts[0], parts -> Double.parseDouble(parts[1]), (a, b) -> b));
  }
}

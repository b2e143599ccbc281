package io.skymesh.mesh.internal.metrics;

import static io.skymesh.mesh.TestMeshes.register;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.MeshTimeoutException;
import io.skymesh.core.exceptions.NoAvailableInstanceException;
import io.skymesh.core.exceptions.OverloadedException;
import io.skymesh.core.exceptions.ServiceNotFoundException;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.NameRouter;
import io.skymesh.mesh.ServiceOptions;
import io.skymesh.mesh.TestMeshes;
import io.skymesh.mesh.routing.RoutingPolicy;
import io.skymesh.mesh.rpc.Methods;
import io.skymesh.mesh.rpc.Reply;
import io.skymesh.mesh.rpc.RequestOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.test.StepVerifier;

/**
 * The mesh's meters against a real name server and real TCP: a scripted scenario, then the exact
 * value of every meter it touches. Meters updated after the caller has its answer (a handler's
 * timer, a peer's report) are awaited, then compared exactly.
 */
class MeshMetersTest {

  private static final Duration DEADLINE = TestMeshes.DEADLINE;
  private static final ServiceUrl SERVER = ServiceUrl.parse("game.zone1.test/1");
  private static final String SERVICE = "game.zone1.test";
  private static final String EMPTY = "game.zone1.empty";

  private final SimpleMeterRegistry client = new SimpleMeterRegistry();
  private final SimpleMeterRegistry server = new SimpleMeterRegistry();
  private final Sinks.Empty<Void> release = Sinks.empty();
  private TestMeshes fixture;

  @AfterEach
  void stop() {
    if (fixture != null) {
      fixture.close();
    }
  }

  private Methods methods() {
    return Methods.builder()
        .add("echo", request -> Mono.just(Reply.of(request.payload())))
        .add(
            "throw",
            request -> {
              throw new IllegalStateException("thrown by the handler");
            })
        .add("never", request -> Mono.never())
        .add("hold", request -> release.asMono().thenReturn(Reply.empty()))
        .build();
  }

  private Mesh serverMesh() {
    Mesh mesh = fixture.mesh(b -> b.meterRegistry(server).maxConcurrentHandlersPerService(1));
    mesh.register(
            SERVER,
            message ->
                message.payload().toStringUtf8().equals("bad")
                    ? Mono.error(new IllegalStateException("the handler refused it"))
                    : Mono.empty(),
            ServiceOptions.defaults().withMethods(methods()))
        .block(DEADLINE);
    return mesh;
  }

  @Test
  void streamsAreTimedByOutcomeOnBothSides() {
    fixture = TestMeshes.withNameServer();
    Mesh a = fixture.mesh(b -> b.meterRegistry(client));
    Mesh b = fixture.mesh(builder -> builder.meterRegistry(server));
    register(
        b,
        SERVER.toString(),
        Methods.builder()
            .addStream("count", request -> Flux.range(1, 3).map(i -> Reply.empty()))
            .addChannel("echo", requests -> requests.map(r -> Reply.of(r.payload())))
            .addStream("endless", request -> Flux.<Reply>never())
            .build());
    MeshService caller = register(a, "game.zone1.client/1");

    StepVerifier.create(caller.requestStream(SERVER, "count", bytes("")))
        .expectNextCount(3)
        .expectComplete()
        .verify(DEADLINE);
    StepVerifier.create(caller.requestChannel(SERVER, "echo", Flux.just(bytes("a"), bytes("b"))))
        .expectNextCount(2)
        .expectComplete()
        .verify(DEADLINE);
    StepVerifier.create(caller.requestStream(SERVER, "nothing", bytes("")))
        .expectError()
        .verify(DEADLINE);
    StepVerifier.create(caller.requestStream(SERVER, "endless", bytes("")))
        .thenAwait(Duration.ofMillis(50))
        .thenCancel()
        .verify(DEADLINE);

    // Timed when each stream's last signal has reached its subscriber: awaited, then exact.
    await()
        .atMost(DEADLINE)
        .untilAsserted(
            () ->
                assertThat(counts(client, "skymesh.mesh.streams", "service", "method", "status"))
                    .isEqualTo(
                        Map.of(
                            SERVICE + "/count/OK", 1.0,
                            SERVICE + "/echo/OK", 1.0,
                            SERVICE + "/nothing/UNIMPLEMENTED", 1.0,
                            SERVICE + "/endless/CANCELLED", 1.0)));
    await()
        .atMost(DEADLINE)
        .untilAsserted(
            () ->
                assertThat(
                        counts(
                            server, "skymesh.mesh.stream.handlers", "service", "method", "status"))
                    .isEqualTo(
                        Map.of(
                            SERVICE + "/count/OK", 1.0,
                            SERVICE + "/echo/OK", 1.0,
                            SERVICE + "/<unknown>/UNIMPLEMENTED", 1.0,
                            SERVICE + "/endless/CANCELLED", 1.0)));
  }

  @Test
  void aScriptedScenarioProducesExactlyTheExpectedMeterValues() throws IOException {
    fixture = TestMeshes.withNameServer();
    Mesh a = fixture.mesh(b -> b.meterRegistry(client));
    // Churn, so that the restarted name server's revisions start well below what the watches saw:
    // each watch then resumes with a resync snapshot.
    for (int i = 0; i < 10; i++) {
      register(a, "game.zone1.churn/" + i).close().block(DEADLINE);
    }
    serverMesh();
    MeshService caller = register(a, "game.zone1.client/1");

    // Messages: written, refused by the handler (reported back), not alive, routed.
    caller.sendTo(SERVER, bytes("hello")).block(DEADLINE);
    caller.sendTo(SERVER, bytes("hello")).block(DEADLINE);
    caller.sendTo(SERVER, bytes("bad")).block(DEADLINE);
    StepVerifier.create(caller.sendTo(ServiceUrl.parse(SERVICE + "/99"), bytes("x")))
        .expectError(ServiceNotFoundException.class)
        .verify(DEADLINE);
    NameRouter router = a.router(ServiceName.parse(SERVICE));
    caller.sendTo(router, RoutingPolicy.roundRobin(), bytes("r")).block(DEADLINE);
    StepVerifier.create(a.router(ServiceName.parse(EMPTY)).select(RoutingPolicy.random()))
        .expectError(NoAvailableInstanceException.class)
        .verify(DEADLINE);

    // Requests: OK twice, a handler that throws, a deadline, an unknown method, a refusal.
    caller.request(SERVER, "echo", bytes("1")).block(DEADLINE);
    caller.request(SERVER, "echo", bytes("2")).block(DEADLINE);
    StepVerifier.create(caller.request(SERVER, "throw", bytes("")))
        .expectErrorSatisfies(e -> assertThat(e).hasMessageContaining("thrown by the handler"))
        .verify(DEADLINE);
    StepVerifier.create(
            caller.request(
                SERVER,
                "never",
                bytes(""),
                RequestOptions.defaults().withTimeout(Duration.ofMillis(200))))
        .expectError(MeshTimeoutException.class)
        .verify(DEADLINE);
    awaitGauge(server, "skymesh.mesh.handlers.running", 0);
    StepVerifier.create(caller.request(SERVER, "nope", bytes("")))
        .expectErrorSatisfies(e -> assertThat(e).hasMessageContaining("not implemented"))
        .verify(DEADLINE);
    caller.notify(SERVER, "nope", bytes("")).block(DEADLINE);
    awaitGauge(server, "skymesh.mesh.handlers.running", 0);
    Mono<Reply> held = caller.request(SERVER, "hold", bytes("")).cache();
    held.subscribe();
    awaitGauge(server, "skymesh.mesh.handlers.running", 1);
    assertThat(value(client, "skymesh.mesh.requests.in.flight")).isEqualTo(1.0);
    assertThat(counts(client, "skymesh.mesh.peer.requests.in.flight", "remote.app"))
        .isEqualTo(Map.of("game", 1.0));
    assertThat(counts(client, "skymesh.mesh.peer.requests.queued", "remote.app"))
        .isEqualTo(Map.of("game", 0.0));
    StepVerifier.create(caller.request(SERVER, "echo", bytes("3")))
        .expectError(OverloadedException.class)
        .verify(DEADLINE);
    release.tryEmitEmpty();
    held.block(DEADLINE);

    // The caller's side.
    await()
        .atMost(DEADLINE)
        .untilAsserted(
            () ->
                assertThat(counts(client, "skymesh.mesh.requests", "service", "method", "status"))
                    .isEqualTo(
                        Map.of(
                            SERVICE + "/echo/OK", 2.0,
                            SERVICE + "/echo/RESOURCE_EXHAUSTED", 1.0,
                            SERVICE + "/throw/UNKNOWN", 1.0,
                            SERVICE + "/never/DEADLINE_EXCEEDED", 1.0,
                            SERVICE + "/nope/UNIMPLEMENTED", 1.0,
                            SERVICE + "/nope/OK", 1.0,
                            SERVICE + "/hold/OK", 1.0)));
    await()
        .atMost(DEADLINE)
        .untilAsserted(
            () ->
                assertThat(counts(client, "skymesh.mesh.sends.undelivered", "status"))
                    .isEqualTo(Map.of("UNKNOWN", 1.0, "UNIMPLEMENTED", 1.0)));
    // A send is counted as it ends, just after its caller hears: awaited too.
    await()
        .atMost(DEADLINE)
        .untilAsserted(
            () -> {
              assertThat(counts(client, "skymesh.mesh.sends", "service", "status"))
                  .isEqualTo(Map.of(SERVICE + "/OK", 4.0, SERVICE + "/NOT_FOUND", 1.0));
              assertThat(counts(client, "skymesh.mesh.sends.bytes", "service", "status"))
                  .isEqualTo(Map.of(SERVICE + "/OK", 14.0, SERVICE + "/NOT_FOUND", 1.0));
            });
    assertThat(counts(client, "skymesh.mesh.router.picks", "service", "policy", "outcome"))
        .isEqualTo(
            Map.of(
                SERVICE + "/roundRobin/chosen", 1.0,
                SERVICE + "/roundRobin/none", 0.0,
                EMPTY + "/random/chosen", 0.0,
                EMPTY + "/random/none", 1.0));
    assertThat(counts(client, "skymesh.mesh.router.membership.events", "service", "type"))
        .isEqualTo(
            Map.of(
                SERVICE + "/ADDED", 1.0,
                SERVICE + "/UPDATED", 0.0,
                SERVICE + "/REMOVED", 0.0,
                EMPTY + "/ADDED", 0.0,
                EMPTY + "/UPDATED", 0.0,
                EMPTY + "/REMOVED", 0.0));
    assertThat(counts(client, "skymesh.mesh.router.instances", "service"))
        .isEqualTo(Map.of(SERVICE, 1.0, EMPTY, 0.0));
    assertThat(counts(client, "skymesh.mesh.peer.connections.opened", "direction"))
        .isEqualTo(Map.of("outbound", 1.0, "inbound", 0.0));
    assertThat(counts(client, "skymesh.mesh.peer.connections", "remote.app"))
        .isEqualTo(Map.of("game", 1.0));
    assertThat(value(client, "skymesh.mesh.requests.in.flight")).isZero();
    assertThat(value(client, "skymesh.mesh.requests.queued")).isZero();
    assertThat(value(client, "skymesh.mesh.peer.write.batches")).isPositive();
    assertThat(value(client, "skymesh.mesh.peer.frames.written"))
        .isGreaterThanOrEqualTo(value(client, "skymesh.mesh.peer.write.batches"));
    assertThat(client.get("skymesh.mesh.peer.bytes.sent").tag("direction", "outbound").counter())
        .extracting(Counter::count)
        .matches(sent -> sent > 0);
    assertThat(
            client.get("skymesh.mesh.peer.bytes.received").tag("direction", "outbound").counter())
        .extracting(Counter::count)
        .matches(received -> received > 0);

    // The handler's side.
    await()
        .atMost(DEADLINE)
        .untilAsserted(
            () -> {
              Map<String, Double> handled =
                  counts(server, "skymesh.mesh.handlers", "service", "method", "status");
              // The handler that never answers ends at its own deadline or at the caller's
              // Cancel, whichever comes first: one of the two, exactly once.
              double never =
                  handled.getOrDefault(SERVICE + "/never/DEADLINE_EXCEEDED", 0.0)
                      + handled.getOrDefault(SERVICE + "/never/CANCELLED", 0.0);
              handled.remove(SERVICE + "/never/DEADLINE_EXCEEDED");
              handled.remove(SERVICE + "/never/CANCELLED");
              assertThat(never).isEqualTo(1.0);
              assertThat(handled)
                  .isEqualTo(
                      Map.of(
                          SERVICE + "/echo/OK", 2.0,
                          SERVICE + "/throw/UNKNOWN", 1.0,
                          SERVICE + "/<unknown>/UNIMPLEMENTED", 2.0,
                          SERVICE + "/hold/OK", 1.0));
            });
    // The caller gave up on "never" at its deadline, just before the handler's own deadline (it
    // started later). The handler's error response, if it was sent, is unmatched. It is not sent
    // when the caller's Cancel reaches the call first, which can happen after the handler's meter
    // has counted its deadline: the deadline runs on the timer's thread, the Cancel on the event
    // loop. So a counted deadline means one unmatched response or none, never more.
    double neverTimedOut =
        counts(server, "skymesh.mesh.handlers", "service", "method", "status")
            .getOrDefault(SERVICE + "/never/DEADLINE_EXCEEDED", 0.0);
    assertThat(value(client, "skymesh.mesh.responses.unmatched")).isBetween(0.0, neverTimedOut);
    assertThat(counts(server, "skymesh.mesh.requests.refused", "status"))
        .isEqualTo(Map.of("RESOURCE_EXHAUSTED", 1.0));
    Map<String, Double> dropped = counts(server, "skymesh.mesh.inbound.dropped", "status");
    assertThat(dropped).containsEntry("UNKNOWN", 1.0).containsEntry("UNIMPLEMENTED", 1.0);
    assertThat(dropped.values().stream().mapToDouble(Double::doubleValue).sum()).isEqualTo(2.0);
    assertThat(value(server, "skymesh.mesh.inbound.reports.lost")).isZero();
    assertThat(value(server, "skymesh.mesh.inbound.frames.ignored")).isZero();
    assertThat(value(server, "skymesh.mesh.replies.lost")).isZero();
    assertThat(counts(server, "skymesh.mesh.peer.connections.opened", "direction"))
        .isEqualTo(Map.of("outbound", 0.0, "inbound", 1.0));

    // A restarted name server: one reconnection, one resync of each watched service.
    assertThat(value(client, "skymesh.mesh.nameserver.connected")).isEqualTo(1.0);
    assertThat(value(client, "skymesh.mesh.nameserver.sessions")).isEqualTo(1.0);
    assertThat(value(client, "skymesh.mesh.nameserver.reconnects")).isZero();
    int port = fixture.nameServer().port();
    fixture.nameServer().closeNow(DEADLINE);
    fixture.startNameServer(port);
    await()
        .atMost(DEADLINE)
        .untilAsserted(
            () -> {
              assertThat(counts(client, "skymesh.mesh.router.resyncs", "service"))
                  .isEqualTo(Map.of(SERVICE, 1.0, EMPTY, 1.0));
              assertThat(value(client, "skymesh.mesh.nameserver.reconnects")).isEqualTo(1.0);
              assertThat(value(client, "skymesh.mesh.nameserver.sessions")).isEqualTo(2.0);
              assertThat(value(client, "skymesh.mesh.nameserver.connected")).isEqualTo(1.0);
            });

    // Every meter the scenario made is documented.
    String documented = Files.readString(Path.of("../docs/metrics.md"));
    Set<String> names = new TreeSet<>();
    for (MeterRegistry registry : List.of(client, server)) {
      registry.getMeters().forEach(meter -> names.add(meter.getId().getName()));
    }
    assertThat(names).hasSizeGreaterThan(30);
    assertThat(names).allMatch(name -> documented.contains("`" + name + "`"), "in docs/metrics.md");
  }

  @Test
  void aConnectionsMetersGoWithItsLastConnectionAndComeBackWithTheNext() {
    fixture = TestMeshes.withNameServer();
    Mesh a = fixture.mesh(b -> b.meterRegistry(client));
    MeshService caller = register(a, "game.zone1.client/1");
    Mesh first = serverMesh();
    caller.request(SERVER, "echo", bytes("1")).block(DEADLINE);
    assertThat(counts(client, "skymesh.mesh.peer.connections", "remote.app"))
        .isEqualTo(Map.of("game", 1.0));

    first.close().block(DEADLINE);
    await()
        .atMost(DEADLINE)
        .untilAsserted(
            () ->
                assertThat(counts(client, "skymesh.mesh.peer.connections.closed", "direction"))
                    .isEqualTo(Map.of("outbound", 1.0, "inbound", 0.0)));
    for (String gone :
        new String[] {
          "skymesh.mesh.peer.connections",
          "skymesh.mesh.peer.outbound.queued",
          "skymesh.mesh.peer.inbound.backlog",
          "skymesh.mesh.peer.requests.in.flight",
          "skymesh.mesh.peer.requests.queued",
          "skymesh.mesh.peer.write.batches",
          "skymesh.mesh.peer.frames.written",
          "skymesh.mesh.peer.sends.refused",
          "skymesh.mesh.peer.reads.paused"
        }) {
      assertThat(client.find(gone).meters()).as(gone).isEmpty();
    }

    serverMesh();
    await()
        .atMost(DEADLINE)
        .untilAsserted(
            () ->
                StepVerifier.create(caller.request(SERVER, "echo", bytes("2")))
                    .expectNextCount(1)
                    .expectComplete()
                    .verify(DEADLINE));
    assertThat(counts(client, "skymesh.mesh.peer.connections", "remote.app"))
        .isEqualTo(Map.of("game", 1.0));
    assertThat(counts(client, "skymesh.mesh.peer.connections.opened", "direction"))
        .isEqualTo(Map.of("outbound", 2.0, "inbound", 0.0));
    assertThat(client.find("skymesh.mesh.peer.write.batches").meters()).hasSize(1);
  }

  @Test
  void closingTheMeshRemovesEveryMeterItRegistered() {
    fixture = TestMeshes.withNameServer();
    Mesh a = fixture.mesh(b -> b.meterRegistry(client));
    MeshService caller = register(a, "game.zone1.client/1");
    serverMesh();
    caller.request(SERVER, "echo", bytes("1")).block(DEADLINE);
    a.router(ServiceName.parse(SERVICE)).select(RoutingPolicy.random()).block(DEADLINE);
    assertThat(client.getMeters()).isNotEmpty();

    a.close().block(DEADLINE);

    assertThat(client.getMeters()).extracting(Meter::getId).isEmpty();
  }

  @Test
  void withoutARegistryEveryHookReturnsItsArgument() {
    MeshMetrics none = MeshMetrics.of(null);
    Mono<Void> send = Mono.empty();
    Mono<Reply> call = Mono.empty();
    ServiceName service = ServiceName.parse(SERVICE);

    assertThat(none).isSameAs(MeshMetrics.NONE);
    assertThat(none.send(service, 1, send)).isSameAs(send);
    assertThat(none.call(service, "m", call)).isSameAs(call);
    assertThat(none.handle(service, "m", call)).isSameAs(call);
    assertThat(none.router(service)).isSameAs(RouterMeters.NONE);
    assertThat(none.connections()).isNull();
    assertThat(none.registry()).isNull();
  }

  private static ByteString bytes(String text) {
    return ByteString.copyFromUtf8(text);
  }

  private static void awaitGauge(MeterRegistry registry, String name, double expected) {
    await().atMost(DEADLINE).until(() -> value(registry, name) == expected);
  }

  /** The value of the one meter named {@code name}: a gauge's, a counter's or a timer's count. */
  private static double value(MeterRegistry registry, String name) {
    return valueOf(registry.get(name).meter());
  }

  private static double valueOf(Meter meter) {
    if (meter instanceof Counter counter) {
      return counter.count();
    }
    if (meter instanceof FunctionCounter counter) {
      return counter.count();
    }
    if (meter instanceof Gauge gauge) {
      return gauge.value();
    }
    if (meter instanceof Timer timer) {
      return timer.count();
    }
    throw new AssertionError("unexpected meter " + meter.getId());
  }

  /** Every meter named {@code name}, by the values of {@code tags} joined with {@code /}. */
  private static Map<String, Double> counts(MeterRegistry registry, String name, String... tags) {
    Map<String, Double> values = new TreeMap<>();
    for (Meter meter : registry.find(name).meters()) {
      StringBuilder key = new StringBuilder();
      for (String tag : tags) {
        if (key.length() > 0) {
          key.append('/');
        }
        key.append(meter.getId().getTag(tag));
      }
      values.merge(key.toString(), valueOf(meter), Double::sum);
    }
    return values;
  }
}

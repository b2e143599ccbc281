package io.skymesh.mesh.observation;

import static io.skymesh.mesh.TestMeshes.register;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import brave.Span.Kind;
import brave.handler.MutableSpan;
import com.google.protobuf.ByteString;
import io.micrometer.observation.Observation;
import io.micrometer.observation.contextpropagation.ObservationThreadLocalAccessor;
import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.RemoteException;
import io.skymesh.core.exceptions.Statuses;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.ServiceOptions;
import io.skymesh.mesh.TestMeshes;
import io.skymesh.mesh.rpc.Methods;
import io.skymesh.mesh.rpc.Reply;
import io.skymesh.proto.StatusCode;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Hooks;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;

/**
 * Traces across two meshes over TCP (a real name server on loopback): each mesh has its own Brave
 * tracer with W3C propagation, and the spans both report are checked for one trace with the
 * expected parents, kinds and keys.
 */
class MeshTracingTest {

  private static final Duration DEADLINE = TestMeshes.DEADLINE;
  private static final ServiceUrl GREETER = ServiceUrl.parse("game.zone1.greeter/1");
  private static final ServiceUrl ECHO = ServiceUrl.parse("game.zone1.echo/1");
  private static final String GREETER_NAME = "game.zone1.greeter";

  private final BraveTracing.Spans spans = new BraveTracing.Spans();
  private final Map<String, Map<String, String>> seenHeaders = new ConcurrentHashMap<>();
  private final Map<String, String> seenTraceIds = new ConcurrentHashMap<>();
  private TestMeshes fixture;
  private BraveTracing callerTracing;
  private BraveTracing serverTracing;

  @BeforeEach
  void setUp() {
    fixture = TestMeshes.withNameServer();
    callerTracing = new BraveTracing("caller", spans);
    serverTracing = new BraveTracing("server", spans);
  }

  @AfterEach
  void tearDown() {
    fixture.close();
    callerTracing.close();
    serverTracing.close();
  }

  /** The greeter (on the server's mesh) and the echo it calls back (on the caller's mesh). */
  private MeshService start(Mesh callerMesh, Mesh serverMesh) {
    register(
        callerMesh,
        ECHO.toString(),
        Methods.builder().add("Echo", request -> Mono.just(Reply.of(request.payload()))).build());
    MeshService[] greeter = new MeshService[1];
    Methods methods =
        Methods.builder()
            .add(
                "Hello",
                request -> {
                  record("Hello", request.headers());
                  return greeter[0].request(ECHO, "Echo", request.payload());
                })
            .add(
                "Fail",
                request ->
                    Mono.error(Statuses.toException(StatusCode.FAILED_PRECONDITION, "no greeting")))
            .add(
                "Later",
                request ->
                    Mono.delay(Duration.ofMillis(1))
                        .map(
                            tick -> {
                              record("Later", request.headers());
                              return Reply.empty();
                            }))
            .addStream(
                "Count",
                request -> {
                  record("Count", request.headers());
                  return Flux.range(1, 3).map(i -> Reply.empty());
                })
            .addChannel(
                "Echo",
                requests ->
                    requests.map(
                        request -> {
                          record("EchoItem", request.headers());
                          return Reply.of(request.payload());
                        }))
            .add(
                "Notice",
                request -> {
                  record("Notice", request.headers());
                  return Mono.empty();
                })
            .build();
    greeter[0] =
        serverMesh
            .register(
                GREETER,
                message -> {
                  record("message", message.headers());
                  return Mono.empty();
                },
                ServiceOptions.defaults().withMethods(methods))
            .block(DEADLINE);
    return register(callerMesh, "game.zone1.client/1");
  }

  private void record(String what, Map<String, String> headers) {
    seenHeaders.put(what, headers);
    String traceId = serverTracing.currentTraceId();
    if (traceId != null) {
      seenTraceIds.put(what, traceId);
    }
  }

  private MeshService tracedMeshes() {
    return start(
        fixture.mesh(b -> b.observationRegistry(callerTracing.registry)),
        fixture.mesh(b -> b.observationRegistry(serverTracing.registry)));
  }

  @Test
  void aRequestAndTheRequestItsHandlerMakesFormOneTraceUnderTheCallersObservation() {
    MeshService client = tracedMeshes();
    Observation root = Observation.start("test.root", callerTracing.registry);

    StepVerifier.create(
            client
                .request(GREETER, "Hello", ByteString.copyFromUtf8("hi"))
                .contextWrite(c -> c.put(ObservationThreadLocalAccessor.KEY, root)))
        .assertNext(reply -> assertThat(reply.payload().toStringUtf8()).isEqualTo("hi"))
        .expectComplete()
        .verify(DEADLINE);
    root.stop();

    await().atMost(DEADLINE).until(() -> spans.finished.size() >= 5);
    MeshSpans tree = new MeshSpans(spans);
    MutableSpan rootSpan = spans.named("test.root");
    MutableSpan client1 = tree.one("request " + GREETER_NAME + "/Hello", Kind.CLIENT);
    MutableSpan server1 = tree.one("request " + GREETER_NAME + "/Hello", Kind.SERVER);
    MutableSpan client2 = tree.one("request game.zone1.echo/Echo", Kind.CLIENT);
    MutableSpan server2 = tree.one("request game.zone1.echo/Echo", Kind.SERVER);
    assertThat(spans.finished).hasSize(5);
    for (MutableSpan span : spans.finished) {
      assertThat(span.traceId()).as(span.name()).isEqualTo(rootSpan.traceId());
    }
    assertThat(rootSpan.parentId()).isNull();
    assertThat(client1.parentId()).isEqualTo(rootSpan.id());
    assertThat(server1.parentId()).isEqualTo(client1.id());
    assertThat(client2.parentId()).isEqualTo(server1.id());
    assertThat(server2.parentId()).isEqualTo(client2.id());
    assertThat(client1.localServiceName()).isEqualTo("caller");
    assertThat(server1.localServiceName()).isEqualTo("server");

    assertThat(client1.tags())
        .containsEntry("service", GREETER_NAME)
        .containsEntry("method", "Hello")
        .containsEntry("kind", "request")
        .containsEntry("status", "OK")
        .containsEntry("destination", GREETER.toString());
    assertThat(server1.tags())
        .containsEntry("service", GREETER_NAME)
        .containsEntry("method", "Hello")
        .containsEntry("kind", "request")
        .containsEntry("status", "OK")
        .containsEntry("source", "game.zone1.client/1");
    assertThat(seenHeaders.get("Hello"))
        .containsEntry("traceparent", "00-" + rootSpan.traceId() + "-" + client1.id() + "-01");
    assertThat(seenTraceIds.get("Hello"))
        .as("the trace id in scope in the handler (the MDC's)")
        .isEqualTo(rootSpan.traceId());
  }

  @Test
  void aFailedRequestRecordsItsStatusAndErrorOnBothSpans() {
    MeshService client = tracedMeshes();

    StepVerifier.create(client.request(GREETER, "Fail", ByteString.EMPTY))
        .expectErrorSatisfies(
            e ->
                assertThat(((RemoteException) e).statusCode())
                    .isEqualTo(StatusCode.FAILED_PRECONDITION))
        .verify(DEADLINE);

    await().atMost(DEADLINE).until(() -> spans.finished.size() >= 2);
    MeshSpans tree = new MeshSpans(spans);
    MutableSpan client1 = tree.one("request " + GREETER_NAME + "/Fail", Kind.CLIENT);
    MutableSpan server1 = tree.one("request " + GREETER_NAME + "/Fail", Kind.SERVER);
    assertThat(client1.parentId()).as("no observation around the call: a new trace").isNull();
    assertThat(server1.parentId()).isEqualTo(client1.id());
    assertThat(server1.traceId()).isEqualTo(client1.traceId());
    for (MutableSpan span : new MutableSpan[] {client1, server1}) {
      assertThat(span.tags()).as(span.kind().name()).containsEntry("status", "FAILED_PRECONDITION");
      assertThat(span.error()).as(span.kind().name()).isInstanceOf(RemoteException.class);
    }
  }

  @Test
  void notificationsAndMessagesHaveProducerAndConsumerSpans() {
    MeshService client = tracedMeshes();

    StepVerifier.create(client.notify(GREETER, "Notice", ByteString.EMPTY))
        .expectComplete()
        .verify(DEADLINE);
    StepVerifier.create(client.sendTo(GREETER, Map.of("app", "1"), ByteString.EMPTY))
        .expectComplete()
        .verify(DEADLINE);

    await().atMost(DEADLINE).until(() -> spans.finished.size() >= 4);
    MeshSpans tree = new MeshSpans(spans);
    MutableSpan notifySender = tree.one("notify " + GREETER_NAME + "/Notice", Kind.PRODUCER);
    MutableSpan notifyReceiver = tree.one("notify " + GREETER_NAME + "/Notice", Kind.CONSUMER);
    MutableSpan sendSender = tree.one("send " + GREETER_NAME, Kind.PRODUCER);
    MutableSpan sendReceiver = tree.one("send " + GREETER_NAME, Kind.CONSUMER);
    assertThat(notifyReceiver.parentId()).isEqualTo(notifySender.id());
    assertThat(notifyReceiver.traceId()).isEqualTo(notifySender.traceId());
    assertThat(sendReceiver.parentId()).isEqualTo(sendSender.id());
    assertThat(sendReceiver.traceId()).isEqualTo(sendSender.traceId());
    assertThat(notifySender.tags()).containsEntry("kind", "notify").containsEntry("status", "OK");
    assertThat(notifyReceiver.tags()).containsEntry("kind", "notify").containsEntry("status", "OK");
    assertThat(sendSender.tags())
        .containsEntry("kind", "send")
        .containsEntry("method", "none")
        .containsEntry("status", "OK");
    assertThat(sendReceiver.tags()).containsEntry("kind", "send").containsEntry("status", "OK");
    assertThat(seenHeaders.get("message"))
        .containsEntry("app", "1")
        .containsEntry("traceparent", "00-" + sendSender.traceId() + "-" + sendSender.id() + "-01");
    assertThat(seenTraceIds.get("message")).isEqualTo(sendSender.traceId());
    assertThat(seenTraceIds.get("Notice")).isEqualTo(notifySender.traceId());
  }

  @Test
  void streamsAndChannelsHaveClientAndServerSpansOverTheirWholeLife() {
    MeshService client = tracedMeshes();

    StepVerifier.create(client.requestStream(GREETER, "Count", ByteString.EMPTY))
        .expectNextCount(3)
        .expectComplete()
        .verify(DEADLINE);
    StepVerifier.create(
            client.requestChannel(
                GREETER, "Echo", Flux.just(ByteString.copyFromUtf8("a"), ByteString.EMPTY)))
        .expectNextCount(2)
        .expectComplete()
        .verify(DEADLINE);

    await().atMost(DEADLINE).until(() -> spans.finished.size() >= 4);
    MeshSpans tree = new MeshSpans(spans);
    MutableSpan streamClient = tree.one("stream " + GREETER_NAME + "/Count", Kind.CLIENT);
    MutableSpan streamServer = tree.one("stream " + GREETER_NAME + "/Count", Kind.SERVER);
    MutableSpan channelClient = tree.one("stream " + GREETER_NAME + "/Echo", Kind.CLIENT);
    MutableSpan channelServer = tree.one("stream " + GREETER_NAME + "/Echo", Kind.SERVER);
    assertThat(streamServer.parentId()).isEqualTo(streamClient.id());
    assertThat(channelServer.parentId()).isEqualTo(channelClient.id());
    for (MutableSpan span : new MutableSpan[] {streamClient, streamServer, channelServer}) {
      assertThat(span.tags()).containsEntry("kind", "stream").containsEntry("status", "OK");
    }
    assertThat(seenHeaders.get("Count"))
        .containsEntry(
            "traceparent", "00-" + streamClient.traceId() + "-" + streamClient.id() + "-01");
    assertThat(seenTraceIds.get("Count")).isEqualTo(streamClient.traceId());
  }

  @Test
  void withAutomaticContextPropagationTheTraceFollowsTheHandlerOntoAnotherThread() {
    MeshService client = tracedMeshes();
    Hooks.enableAutomaticContextPropagation();
    try {
      StepVerifier.create(client.request(GREETER, "Later", ByteString.EMPTY))
          .expectNextCount(1)
          .expectComplete()
          .verify(DEADLINE);
    } finally {
      Hooks.disableAutomaticContextPropagation();
    }

    await().atMost(DEADLINE).until(() -> spans.finished.size() >= 2);
    MutableSpan server =
        new MeshSpans(spans).one("request " + GREETER_NAME + "/Later", Kind.SERVER);
    assertThat(seenTraceIds.get("Later"))
        .as("the trace id in scope after Mono.delay, on a parallel thread")
        .isEqualTo(server.traceId());
  }

  @Test
  void withoutARegistryTheFramesCarryOnlyTheApplicationsHeaders() {
    MeshService client = start(fixture.mesh(), fixture.mesh());
    Observation root = Observation.start("test.root", callerTracing.registry);

    StepVerifier.create(
            client
                .request(GREETER, "Hello", ByteString.EMPTY)
                .contextWrite(c -> c.put(ObservationThreadLocalAccessor.KEY, root)))
        .expectNextCount(1)
        .expectComplete()
        .verify(DEADLINE);
    StepVerifier.create(client.sendTo(GREETER, Map.of("app", "1"), ByteString.EMPTY))
        .expectComplete()
        .verify(DEADLINE);
    await().atMost(DEADLINE).until(() -> seenHeaders.containsKey("message"));
    root.stop();

    assertThat(seenHeaders.get("Hello")).isEmpty();
    assertThat(seenHeaders.get("message")).isEqualTo(Map.of("app", "1"));
    assertThat(spans.finished).extracting(MutableSpan::name).containsExactly("test.root");
  }

  /** The mesh's spans of a test by name and kind. */
  private record MeshSpans(BraveTracing.Spans spans) {
    MutableSpan one(String name, Kind kind) {
      var matching =
          spans.finished.stream().filter(s -> name.equals(s.name()) && s.kind() == kind).toList();
      assertThat(matching).as(name + " " + kind + " among " + spans.finished).hasSize(1);
      return matching.get(0);
    }
  }
}

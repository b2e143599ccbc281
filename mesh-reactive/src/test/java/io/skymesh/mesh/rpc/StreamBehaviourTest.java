package io.skymesh.mesh.rpc;

import static io.skymesh.mesh.TestMeshes.register;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import com.google.protobuf.StringValue;
import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.PeerUnavailableException;
import io.skymesh.core.exceptions.RemoteException;
import io.skymesh.core.exceptions.Statuses;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.NameRouter;
import io.skymesh.mesh.TestMeshes;
import io.skymesh.mesh.routing.RoutingPolicy;
import io.skymesh.proto.StatusCode;
import java.time.Duration;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.test.StepVerifier;

/**
 * Streams in the rest of the mesh: interceptors see them, protobuf conveniences type them, routers
 * count them in flight, and a connection that closes fails them typed.
 */
class StreamBehaviourTest {

  private static final Duration DEADLINE = TestMeshes.DEADLINE;
  private static final ServiceUrl SERVER = ServiceUrl.parse("game.zone1.test/1");

  private final TestMeshes fixture = TestMeshes.withNameServer();
  private final Sinks.Many<String> started = Sinks.many().replay().all();
  private final AtomicInteger cancelled = new AtomicInteger();

  @AfterEach
  void stop() {
    fixture.close();
  }

  private Methods methods() {
    return Methods.builder()
        .addStream(
            "Greetings",
            StringValue.parser(),
            name ->
                Flux.range(1, 3).map(i -> StringValue.of("hello " + name.getValue() + " #" + i)))
        .addChannel(
            "Shout",
            StringValue.parser(),
            words -> words.map(word -> StringValue.of(word.getValue().toUpperCase())))
        .addStream(
            "Headers",
            request ->
                Flux.just(Reply.of(ByteString.copyFromUtf8(String.valueOf(request.headers())))))
        .addStream(
            "Slow",
            request ->
                Flux.interval(Duration.ofMillis(20))
                    .take(10)
                    .doOnSubscribe(s -> started.tryEmitNext("Slow"))
                    .map(i -> Reply.of(ByteString.copyFromUtf8("" + i))))
        .addStream(
            "Sleep",
            request ->
                Flux.<Reply>never()
                    .doOnSubscribe(s -> started.tryEmitNext("Sleep"))
                    .doOnCancel(cancelled::incrementAndGet))
        .build();
  }

  @Test
  void protobufStreamsAndChannelsAreTypedBothWays() {
    register(fixture.mesh(), SERVER.toString(), methods());
    MeshService client = register(fixture.mesh(), "game.zone1.client/1");

    StepVerifier.create(
            client
                .requestStream(
                    SERVER,
                    "Greetings",
                    StringValue.of("ann"),
                    StringValue.parser(),
                    RequestOptions.defaults())
                .map(StringValue::getValue))
        .expectNext("hello ann #1", "hello ann #2", "hello ann #3")
        .expectComplete()
        .verify(DEADLINE);
    StepVerifier.create(
            client
                .requestChannel(
                    SERVER,
                    "Shout",
                    Flux.just(StringValue.of("a"), StringValue.of("b")),
                    StringValue.parser(),
                    RequestOptions.defaults())
                .map(StringValue::getValue))
        .expectNext("A", "B")
        .expectComplete()
        .verify(DEADLINE);
    // A request that does not parse is the caller's error.
    StepVerifier.create(
            client.requestStream(
                SERVER, "Greetings", ByteString.copyFrom(new byte[] {(byte) 0xff})))
        .expectErrorSatisfies(
            e ->
                assertThat(((RemoteException) e).statusCode())
                    .isEqualTo(StatusCode.INVALID_ARGUMENT))
        .verify(DEADLINE);
  }

  @Test
  void interceptorsSeeStreamsAndMayRefuseThem() {
    Queue<String> trace = new ConcurrentLinkedQueue<>();
    register(
        fixture.mesh(
            b ->
                b.serverInterceptor(
                    new ServerInterceptor() {
                      @Override
                      public Mono<Reply> intercept(
                          IncomingRequest request, Function<IncomingRequest, Mono<Reply>> next) {
                        return next.apply(request);
                      }

                      @Override
                      public Flux<Reply> interceptStream(
                          IncomingRequest request, Function<IncomingRequest, Flux<Reply>> next) {
                        trace.add("server " + request.method() + " " + request.headers());
                        return "ok".equals(request.headers().get("auth"))
                            ? next.apply(request)
                            : Flux.error(
                                Statuses.toException(StatusCode.UNAUTHENTICATED, "no auth"));
                      }
                    })),
        SERVER.toString(),
        methods());
    MeshService client =
        register(
            fixture.mesh(
                b ->
                    b.clientInterceptor(
                        new ClientInterceptor() {
                          @Override
                          public Mono<Reply> intercept(
                              OutgoingRequest request,
                              Function<OutgoingRequest, Mono<Reply>> next) {
                            return next.apply(request);
                          }

                          @Override
                          public Flux<Reply> interceptStream(
                              OutgoingRequest request,
                              Function<OutgoingRequest, Flux<Reply>> next) {
                            trace.add("client " + request.method());
                            return next.apply(request.withHeader("auth", "ok"))
                                .doOnComplete(() -> trace.add("client done"));
                          }
                        })),
            "game.zone1.client/1");

    StepVerifier.create(
            client
                .requestStream(SERVER, "Headers", ByteString.EMPTY)
                .map(r -> r.payload().toStringUtf8()))
        .expectNext("{auth=ok}")
        .expectComplete()
        .verify(DEADLINE);
    assertThat(trace).containsExactly("client Headers", "server Headers {auth=ok}", "client done");

    MeshService plain = register(fixture.mesh(), "game.zone1.client/2");
    StepVerifier.create(plain.requestChannel(SERVER, "Shout", Flux.just(ByteString.EMPTY)))
        .expectErrorSatisfies(
            e ->
                assertThat(((RemoteException) e).statusCode())
                    .isEqualTo(StatusCode.UNAUTHENTICATED))
        .verify(DEADLINE);
  }

  @Test
  void routedStreamsCountInFlightWhileOpen() {
    register(fixture.mesh(), SERVER.toString(), methods());
    Mesh clientMesh = fixture.mesh();
    MeshService caller = register(clientMesh, "game.zone1.client/3");
    NameRouter router = clientMesh.router(ServiceName.parse("game.zone1.test"));

    Disposable sleeping =
        caller
            .requestStream(
                router,
                RoutingPolicy.leastOutstanding(),
                null,
                "Sleep",
                ByteString.EMPTY,
                RequestOptions.defaults())
            .subscribe();
    StepVerifier.create(started.asFlux().take(1)).expectNext("Sleep").verifyComplete();
    assertThat(router.peerStats().inFlight(SERVER)).isEqualTo(1);
    sleeping.dispose();
    assertThat(router.peerStats().inFlight(SERVER)).isZero();
    await().atMost(DEADLINE).until(() -> cancelled.get() == 1);

    StepVerifier.create(
            caller
                .requestChannel(
                    router,
                    RoutingPolicy.roundRobin(),
                    null,
                    "Shout",
                    Flux.just(StringValue.of("x").toByteString()),
                    RequestOptions.defaults())
                .map(r -> r.payload()))
        .expectNext(StringValue.of("X").toByteString())
        .expectComplete()
        .verify(DEADLINE);
  }

  @Test
  void aGracefulCloseLetsTheOpenStreamsFinish() {
    Mesh serverMesh = fixture.mesh();
    register(serverMesh, SERVER.toString(), methods());
    MeshService client = register(fixture.mesh(), "game.zone1.client/1");
    Sinks.Empty<Void> closed = Sinks.empty();

    StepVerifier.create(client.requestStream(SERVER, "Slow", ByteString.EMPTY))
        .expectNextCount(1)
        .then(
            () ->
                serverMesh
                    .closeGracefully(DEADLINE)
                    .subscribe(null, closed::tryEmitError, closed::tryEmitEmpty))
        .expectNextCount(9)
        .expectComplete()
        .verify(DEADLINE);
    StepVerifier.create(closed.asMono()).expectComplete().verify(DEADLINE);
  }

  @Test
  void aClosedConnectionFailsTheOpenStreamTyped() {
    Mesh serverMesh = fixture.mesh();
    register(serverMesh, SERVER.toString(), methods());
    MeshService client = register(fixture.mesh(), "game.zone1.client/1");

    StepVerifier.create(client.requestStream(SERVER, "Sleep", ByteString.EMPTY))
        .then(
            () ->
                StepVerifier.create(started.asFlux().take(1)).expectNext("Sleep").verifyComplete())
        .then(() -> serverMesh.close().block(DEADLINE))
        .expectErrorSatisfies(
            e ->
                assertThat(e)
                    .isInstanceOf(PeerUnavailableException.class)
                    .hasMessageContaining(SERVER + " Sleep"))
        .verify(DEADLINE);
    await().atMost(DEADLINE).until(() -> cancelled.get() == 1);
  }
}

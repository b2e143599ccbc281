package io.skymesh.mesh.rpc;

import static io.skymesh.mesh.TestMeshes.register;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.MeshTimeoutException;
import io.skymesh.core.exceptions.OverloadedException;
import io.skymesh.core.exceptions.PeerUnavailableException;
import io.skymesh.core.exceptions.RemoteException;
import io.skymesh.core.exceptions.Statuses;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.NameRouter;
import io.skymesh.mesh.TestMeshes;
import io.skymesh.mesh.internal.DefaultMesh;
import io.skymesh.mesh.internal.rpc.PeerLimiter;
import io.skymesh.mesh.internal.transport.InboundFrame;
import io.skymesh.mesh.internal.transport.PeerConnection;
import io.skymesh.mesh.internal.transport.PeerTransport;
import io.skymesh.mesh.internal.transport.PeerTransportConfig;
import io.skymesh.mesh.routing.RoutingPolicy;
import io.skymesh.proto.PeerFrame;
import io.skymesh.proto.Request;
import io.skymesh.proto.Response;
import io.skymesh.proto.StatusCode;
import java.time.Duration;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.netty.resources.LoopResources;
import reactor.test.StepVerifier;

/**
 * Request / response beyond the interop cases: the server's own deadline, flow control under a
 * flood, in-process calls, notifications, interceptors, blocking handlers, routing, connection
 * loss.
 */
class RequestResponseBehaviourTest {

  private static final Duration DEADLINE = TestMeshes.DEADLINE;
  private static final ServiceUrl SERVER = ServiceUrl.parse("game.zone1.test/1");

  private TestMeshes fixture;
  private final AtomicInteger cancelled = new AtomicInteger();
  private final Sinks.Many<String> started = Sinks.many().replay().all();

  @BeforeEach
  void start() {
    fixture = TestMeshes.withNameServer();
  }

  @AfterEach
  void stop() {
    fixture.close();
  }

  private Methods.Builder sleepy() {
    return Methods.builder()
        .add("Echo", request -> Mono.just(Reply.of(request.payload())))
        .add(
            "Sleep",
            request ->
                Mono.<Reply>never()
                    .doOnSubscribe(s -> started.tryEmitNext(request.method()))
                    .doOnCancel(cancelled::incrementAndGet));
  }

  @Test
  void theServerStopsTheHandlerAtTheDeadlineEvenIfTheCallerNeverCancels() {
    Mesh server = fixture.mesh();
    register(server, SERVER.toString(), sleepy().build());
    Queue<InboundFrame> received = new ConcurrentLinkedQueue<>();
    PeerTransport raw =
        PeerTransport.create(
                PeerTransportConfig.builder().appId("game").build(),
                frame -> {
                  received.add(frame);
                  return Mono.empty();
                })
            .bind()
            .block(DEADLINE);
    try {
      PeerConnection connection = raw.connection(server.listenAddress()).block(DEADLINE);
      PeerFrame request =
          PeerFrame.newBuilder()
              .setRequest(
                  Request.newBuilder()
                      .setStreamId(7)
                      .setSource("game.zone1.raw/1")
                      .setDestination(SERVER.toString())
                      .setMethod("Sleep")
                      .setTimeoutMicros(200_000))
              .build();

      connection.send(request).block(DEADLINE);

      await().atMost(DEADLINE).until(() -> !received.isEmpty());
      Response response = received.peek().peerFrame().getResponse();
      assertThat(response.getStreamId()).isEqualTo(7);
      assertThat(response.getStatus().getCode()).isEqualTo(StatusCode.DEADLINE_EXCEEDED);
      assertThat(cancelled.get()).isEqualTo(1);
      assertThat(((DefaultMesh) server).rpcServer().running()).isZero();
    } finally {
      raw.close().block(DEADLINE);
    }
  }

  @Test
  void tenThousandConcurrentRequestsAgainstOneSlowHandlerStayBounded() {
    int serverCap = 64;
    int inFlightCap = 128;
    int pendingCap = 512;
    AtomicInteger running = new AtomicInteger();
    AtomicInteger maxRunning = new AtomicInteger();
    AtomicInteger maxPending = new AtomicInteger();
    AtomicInteger maxInFlight = new AtomicInteger();
    Mesh serverMesh = fixture.mesh(b -> b.maxConcurrentHandlersPerService(serverCap));
    Mesh clientMesh =
        fixture.mesh(
            b -> b.maxRequestsInFlightPerPeer(inFlightCap).maxPendingRequestsPerPeer(pendingCap));
    PeerLimiter[] limiter = new PeerLimiter[1];
    register(
        serverMesh,
        SERVER.toString(),
        Methods.builder()
            .add(
                "Slow",
                request -> {
                  maxRunning.accumulateAndGet(running.incrementAndGet(), Math::max);
                  PeerLimiter peer = limiter[0];
                  if (peer != null) {
                    maxPending.accumulateAndGet(peer.pending(), Math::max);
                    maxInFlight.accumulateAndGet(peer.inFlight(), Math::max);
                  }
                  // Counted down as the reply leaves the handler, before the server frees its
                  // slot: a doFinally runs after that, when the next handler may have started.
                  return Mono.delay(Duration.ofMillis(20))
                      .thenReturn(Reply.of(request.payload()))
                      .doOnTerminate(running::decrementAndGet)
                      .doOnCancel(running::decrementAndGet);
                })
            .build());
    MeshService client = register(clientMesh, "game.zone1.client/1");
    client.request(SERVER, "Slow", ByteString.EMPTY).block(DEADLINE);
    limiter[0] = ((DefaultMesh) clientMesh).calls().existingLimiter(serverMesh.listenAddress());
    AtomicLong ok = new AtomicLong();
    AtomicLong overloaded = new AtomicLong();
    Queue<Throwable> other = new ConcurrentLinkedQueue<>();

    Flux.range(0, 10_000)
        .flatMap(
            i ->
                client
                    .request(SERVER, "Slow", TestMeshes.sequence(i))
                    .doOnNext(r -> ok.incrementAndGet())
                    .onErrorResume(
                        e -> {
                          if (e instanceof OverloadedException) {
                            overloaded.incrementAndGet();
                          } else {
                            other.add(e);
                          }
                          return Mono.empty();
                        }),
            10_000)
        .then()
        .block(DEADLINE);

    assertThat(other).isEmpty();
    assertThat(ok.get() + overloaded.get()).isEqualTo(10_000);
    assertThat(ok.get()).isGreaterThanOrEqualTo(serverCap);
    assertThat(overloaded.get()).isPositive();
    assertThat(maxRunning.get()).isLessThanOrEqualTo(serverCap);
    assertThat(maxInFlight.get()).isLessThanOrEqualTo(inFlightCap);
    assertThat(maxPending.get()).isLessThanOrEqualTo(pendingCap);
    await().atMost(DEADLINE).until(() -> limiter[0].inFlight() == 0 && limiter[0].pending() == 0);
    assertThat(((DefaultMesh) serverMesh).rpcServer().running()).isZero();
  }

  @Test
  void inProcessRequestsHaveTheSameSemantics() {
    Mesh mesh = fixture.mesh();
    register(
        mesh,
        SERVER.toString(),
        sleepy().add("Fail", request -> Mono.error(new IllegalStateException("no luck"))).build());
    MeshService client = register(mesh, "game.zone1.client/1");

    StepVerifier.create(client.request(SERVER, "Echo", ByteString.copyFromUtf8("local")))
        .assertNext(reply -> assertThat(reply.payload().toStringUtf8()).isEqualTo("local"))
        .expectComplete()
        .verify(DEADLINE);
    StepVerifier.create(client.request(SERVER, "Fail", ByteString.EMPTY))
        .expectErrorSatisfies(
            e -> {
              assertThat(e).isInstanceOf(RemoteException.class).hasMessageContaining("no luck");
              assertThat(((RemoteException) e).statusCode()).isEqualTo(StatusCode.UNKNOWN);
            })
        .verify(DEADLINE);
    StepVerifier.create(client.request(SERVER, "Nope", ByteString.EMPTY))
        .expectErrorSatisfies(
            e -> assertThat(((RemoteException) e).statusCode()).isEqualTo(StatusCode.UNIMPLEMENTED))
        .verify(DEADLINE);
    StepVerifier.create(
            client.request(
                SERVER,
                "Sleep",
                ByteString.EMPTY,
                RequestOptions.defaults().withTimeout(Duration.ofMillis(100))))
        .expectError(MeshTimeoutException.class)
        .verify(DEADLINE);
    await().atMost(DEADLINE).until(() -> cancelled.get() == 1);

    Disposable call = client.request(SERVER, "Sleep", ByteString.EMPTY).subscribe();
    call.dispose();
    await().atMost(DEADLINE).until(() -> cancelled.get() == 2);
    assertThat(((DefaultMesh) mesh).rpcServer().running()).isZero();
  }

  @Test
  void notificationsRunTheHandlerAndGetNoReply() {
    Queue<String> seen = new ConcurrentLinkedQueue<>();
    Methods methods =
        Methods.builder()
            .add(
                "Note",
                request -> {
                  seen.add(request.payload().toStringUtf8() + " oneWay=" + request.oneWay());
                  return Mono.just(Reply.of(ByteString.copyFromUtf8("ignored")));
                })
            .build();
    Mesh serverMesh = fixture.mesh();
    register(serverMesh, SERVER.toString(), methods);
    MeshService remote = register(fixture.mesh(), "game.zone1.client/1");
    MeshService local = register(serverMesh, "game.zone1.client/2");

    StepVerifier.create(remote.notify(SERVER, "Note", ByteString.copyFromUtf8("remote")))
        .expectComplete()
        .verify(DEADLINE);
    StepVerifier.create(local.notify(SERVER, "Note", ByteString.copyFromUtf8("local")))
        .expectComplete()
        .verify(DEADLINE);

    await().atMost(DEADLINE).until(() -> seen.size() == 2);
    assertThat(seen).containsExactlyInAnyOrder("remote oneWay=true", "local oneWay=true");
  }

  @Test
  void interceptorsWrapCallsInOrderAndCarryHeadersBothWays() {
    Queue<String> trace = new ConcurrentLinkedQueue<>();
    Mesh serverMesh =
        fixture.mesh(
            b ->
                b.serverInterceptor(
                        (request, next) -> {
                          trace.add("server-outer " + request.headers().get("auth"));
                          return "ok".equals(request.headers().get("auth"))
                              ? next.apply(request).map(r -> r.withHeader("server-took", "1"))
                              : Mono.error(
                                  Statuses.toException(StatusCode.UNAUTHENTICATED, "no auth"));
                        })
                    .serverInterceptor(
                        (request, next) -> {
                          trace.add("server-inner");
                          return next.apply(request.withHeader("seen-by", "inner"));
                        }));
    register(
        serverMesh,
        SERVER.toString(),
        Methods.builder()
            .add(
                "Headers",
                request ->
                    Mono.just(Reply.of(ByteString.copyFromUtf8(request.headers().get("seen-by")))))
            .build());
    Mesh clientMesh =
        fixture.mesh(
            b ->
                b.clientInterceptor(
                        (request, next) -> {
                          trace.add("client-outer");
                          return next.apply(request.withHeader("auth", "ok"))
                              .doOnNext(r -> trace.add("client-outer got " + r.headers()));
                        })
                    .clientInterceptor(
                        (request, next) -> {
                          trace.add("client-inner " + request.headers().get("auth"));
                          return next.apply(request);
                        }));
    MeshService client = register(clientMesh, "game.zone1.client/1");

    StepVerifier.create(client.request(SERVER, "Headers", ByteString.EMPTY))
        .assertNext(reply -> assertThat(reply.payload().toStringUtf8()).isEqualTo("inner"))
        .expectComplete()
        .verify(DEADLINE);
    assertThat(trace)
        .containsExactly(
            "client-outer",
            "client-inner ok",
            "server-outer ok",
            "server-inner",
            "client-outer got {server-took=1}");

    MeshService unauthenticated = register(fixture.mesh(), "game.zone1.client/2");
    StepVerifier.create(unauthenticated.request(SERVER, "Headers", ByteString.EMPTY))
        .expectErrorSatisfies(
            e ->
                assertThat(((RemoteException) e).statusCode())
                    .isEqualTo(StatusCode.UNAUTHENTICATED))
        .verify(DEADLINE);
  }

  @Test
  void aBlockingHandlerThatOptedInRunsOffTheEventLoop() {
    Mesh serverMesh = fixture.mesh();
    register(
        serverMesh,
        SERVER.toString(),
        Methods.builder()
            .addBlocking(
                "Block",
                request ->
                    Mono.fromCallable(
                        () -> {
                          // A real blocking call: BlockHound fails the test on an event loop.
                          Thread.sleep(20);
                          return Reply.of(
                              ByteString.copyFromUtf8(Thread.currentThread().getName()));
                        }))
            .build());
    MeshService client = register(fixture.mesh(), "game.zone1.client/1");

    List<String> threads =
        Flux.range(0, 8)
            .flatMap(i -> client.request(SERVER, "Block", ByteString.EMPTY))
            .map(reply -> reply.payload().toStringUtf8())
            .collectList()
            .block(DEADLINE);

    assertThat(threads).hasSize(8).allSatisfy(name -> assertThat(name).contains("boundedElastic"));
  }

  @Test
  void meshesOnLoopsOfTheirOwnHandleAndAnswerOnThem() {
    LoopResources serverLoops = LoopResources.create("own-server-peers", 1, true);
    LoopResources clientLoops = LoopResources.create("own-client-peers", 1, true);
    try {
      Mesh serverMesh = fixture.mesh(b -> b.runOn(serverLoops));
      register(
          serverMesh,
          SERVER.toString(),
          Methods.builder()
              .add(
                  "Where",
                  request ->
                      Mono.fromSupplier(
                          () ->
                              Reply.of(ByteString.copyFromUtf8(Thread.currentThread().getName()))))
              .build());
      Mesh clientMesh = fixture.mesh(b -> b.runOn(clientLoops));
      MeshService client = register(clientMesh, "game.zone1.client/1");

      StepVerifier.create(
              client
                  .request(SERVER, "Where", ByteString.EMPTY)
                  .map(reply -> List.of(reply.payload().toStringUtf8(), threadName())))
          .assertNext(
              threads -> {
                assertThat(threads.get(0)).contains("own-server-peers");
                assertThat(threads.get(1)).contains("own-client-peers");
              })
          .verifyComplete();
      // Closed before their loops go: the mesh does not dispose loops it was given.
      clientMesh.close().block(DEADLINE);
      serverMesh.close().block(DEADLINE);
    } finally {
      clientLoops.disposeLater().block(DEADLINE);
      serverLoops.disposeLater().block(DEADLINE);
    }
  }

  private static String threadName() {
    return Thread.currentThread().getName();
  }

  @Test
  void routedRequestsAreCountedInFlightForTheRouter() {
    Mesh serverMesh = fixture.mesh();
    register(serverMesh, SERVER.toString(), sleepy().build());
    Mesh clientMesh = fixture.mesh();
    MeshService caller = register(clientMesh, "game.zone1.client/3");
    NameRouter router = clientMesh.router(ServiceName.parse("game.zone1.test"));

    StepVerifier.create(
            caller.request(
                router,
                RoutingPolicy.leastOutstanding(),
                null,
                "Echo",
                ByteString.copyFromUtf8("routed"),
                RequestOptions.defaults()))
        .assertNext(reply -> assertThat(reply.payload().toStringUtf8()).isEqualTo("routed"))
        .expectComplete()
        .verify(DEADLINE);
    Disposable sleeping =
        caller
            .request(
                router,
                RoutingPolicy.hash(),
                "some key",
                "Sleep",
                ByteString.EMPTY,
                RequestOptions.defaults())
            .subscribe();
    StepVerifier.create(started.asFlux().take(1))
        .expectNext("Sleep")
        .expectComplete()
        .verify(DEADLINE);
    assertThat(router.peerStats().inFlight(SERVER)).isEqualTo(1);
    sleeping.dispose();
    assertThat(router.peerStats().inFlight(SERVER)).isZero();
    await().atMost(DEADLINE).until(() -> cancelled.get() == 1);
  }

  @Test
  void aClosedConnectionFailsTheRequestsInFlightTyped() {
    Mesh serverMesh = fixture.mesh();
    register(serverMesh, SERVER.toString(), sleepy().build());
    MeshService client = register(fixture.mesh(), "game.zone1.client/1");

    StepVerifier.create(client.request(SERVER, "Sleep", ByteString.EMPTY))
        .then(() -> started.asFlux().blockFirst(DEADLINE))
        .then(() -> serverMesh.close().block(DEADLINE))
        .expectError(PeerUnavailableException.class)
        .verify(DEADLINE);
  }

  @Test
  void aGracefulCloseFinishesTheRequestsInFlight() {
    Sinks.One<Reply> answer = Sinks.one();
    Mesh serverMesh = fixture.mesh();
    register(
        serverMesh,
        SERVER.toString(),
        Methods.builder()
            .add(
                "Later",
                request ->
                    answer.asMono().doOnSubscribe(s -> started.tryEmitNext(request.method())))
            .build());
    MeshService client = register(fixture.mesh(), "game.zone1.client/1");

    StepVerifier.create(client.request(SERVER, "Later", ByteString.EMPTY))
        .then(() -> started.asFlux().blockFirst(DEADLINE))
        .then(
            () -> {
              serverMesh.closeGracefully(Duration.ofSeconds(10)).subscribe();
              answer.tryEmitValue(Reply.of(ByteString.copyFromUtf8("finished")));
            })
        .assertNext(reply -> assertThat(reply.payload().toStringUtf8()).isEqualTo("finished"))
        .expectComplete()
        .verify(DEADLINE);
  }

  @Test
  void aReplyOverTheFrameLimitStillAnswersTyped() {
    Mesh serverMesh = fixture.mesh(b -> b.maxFrameLength(64 * 1024));
    register(
        serverMesh,
        SERVER.toString(),
        Methods.builder()
            .add("Huge", request -> Mono.just(Reply.of(ByteString.copyFrom(new byte[100_000]))))
            .build());
    MeshService client = register(fixture.mesh(), "game.zone1.client/1");

    StepVerifier.create(client.request(SERVER, "Huge", ByteString.EMPTY))
        .expectError(OverloadedException.class)
        .verify(DEADLINE);
  }

  @Test
  void requestOptionsAndMethodsCheckTheirArguments() {
    assertThatIllegalArgumentException()
        .isThrownBy(() -> RequestOptions.defaults().withTimeout(Duration.ZERO))
        .withMessageContaining("timeout");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> Methods.builder().add("A", r -> Mono.empty()).add("A", r -> Mono.empty()))
        .withMessageContaining("A");
  }
}

package io.skymesh.mesh.rpc;

import static io.skymesh.mesh.TestMeshes.register;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.RemoteException;
import io.skymesh.mesh.MeshBuilder;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.TestMeshes;
import io.skymesh.mesh.internal.DefaultMesh;
import io.skymesh.mesh.internal.rpc.Calls;
import io.skymesh.proto.StatusCode;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.test.StepVerifier;

/**
 * The request/response interop suite again with pooled payloads on both meshes, and the lifetime
 * rule of those payloads: a handler's view lasts until its reply is written, a caller's until the
 * reply's {@code onNext} returns, and every path releases its view (Netty's paranoid leak detector
 * fails the test otherwise).
 */
class RequestResponseInteropPooledPayloadsTest extends RequestResponseInteropTest {

  private static final Duration DEADLINE = TestMeshes.DEADLINE;
  private static final ServiceUrl SLOW = ServiceUrl.parse("game.zone1.slow/1");
  private static final int SIZE = 4096;

  @Override
  MeshBuilder transport(MeshBuilder mesh) {
    return mesh.pooledPayloads(true);
  }

  @Test
  void aHandlerReadsItsPayloadLaterWhileOtherFramesArriveAndEveryReplyIsItsOwn() {
    register(
        serverMesh,
        SLOW.toString(),
        Methods.builder()
            .add(
                "LateEcho",
                request ->
                    Mono.delay(Duration.ofMillis(20))
                        // Read well after arrival, when later payloads have reused pooled memory.
                        .map(
                            tick -> Reply.of(ByteString.copyFrom(request.payload().toByteArray()))))
            .build());
    int calls = 64;

    List<Boolean> intact =
        Flux.range(0, calls)
            .flatMap(
                i ->
                    client
                        .request(SLOW, "LateEcho", ByteString.copyFrom(bytes(SIZE, i)))
                        .map(reply -> reply.payload().equals(ByteString.copyFrom(bytes(SIZE, i)))),
                calls)
            .collectList()
            .block(DEADLINE);

    assertThat(intact).hasSize(calls).containsOnly(true);
  }

  @Test
  void aCallerThatAsksForItsReplyLateGetsACopyThatStaysValid() {
    ByteString payload = ByteString.copyFrom(bytes(SIZE, 7));
    Calls calls = ((DefaultMesh) clientMesh).calls();

    StepVerifier.create(
            client.request(ServiceUrl.parse("game.zone1.test/1"), "UnaryCall", payload), 0)
        .expectSubscription()
        .then(() -> await().atMost(DEADLINE).until(() -> calls.pendingReplies() == 0))
        // The reply came while nobody asked for it; more frames come and go meanwhile.
        .then(
            () ->
                client
                    .request(
                        ServiceUrl.parse("game.zone1.test/1"),
                        "UnaryCall",
                        ByteString.copyFrom(bytes(SIZE, 8)))
                    .map(reply -> reply.payload().size())
                    .block(DEADLINE))
        .thenRequest(1)
        .assertNext(reply -> assertThat(reply.payload()).isEqualTo(payload))
        .expectComplete()
        .verify(DEADLINE);
  }

  @Test
  void notificationsHandlerFailuresAndCancelsReleaseTheirViews() {
    Map<Integer, Boolean> noted = new ConcurrentHashMap<>();
    AtomicInteger cancelled = new AtomicInteger();
    Sinks.Many<Integer> sleeping = Sinks.many().replay().all();
    register(
        serverMesh,
        SLOW.toString(),
        Methods.builder()
            .add(
                "Note",
                request -> {
                  int seed = request.payload().byteAt(0);
                  noted.put(seed, request.payload().equals(numbered(seed)));
                  return Mono.empty();
                })
            .add("Fail", request -> Mono.error(new IllegalStateException("refused")))
            .add(
                "Sleep",
                request ->
                    Mono.<Reply>never()
                        .doOnSubscribe(s -> sleeping.tryEmitNext(1))
                        .doOnCancel(cancelled::incrementAndGet))
            .build());
    MeshService caller = client;

    for (int i = 0; i < 8; i++) {
      StepVerifier.create(caller.notify(SLOW, "Note", numbered(i)))
          .expectComplete()
          .verify(DEADLINE);
    }
    StepVerifier.create(caller.request(SLOW, "Fail", ByteString.copyFrom(bytes(SIZE, 1))))
        .expectErrorSatisfies(
            e -> assertThat(((RemoteException) e).statusCode()).isEqualTo(StatusCode.UNKNOWN))
        .verify(DEADLINE);
    Disposable sleeper =
        caller.request(SLOW, "Sleep", ByteString.copyFrom(bytes(SIZE, 2))).subscribe();
    StepVerifier.create(sleeping.asFlux().take(1)).expectNext(1).expectComplete().verify(DEADLINE);
    sleeper.dispose();

    await().atMost(DEADLINE).until(() -> noted.size() == 8 && cancelled.get() == 1);
    assertThat(noted.values()).containsOnly(true);
    await().atMost(DEADLINE).until(() -> ((DefaultMesh) serverMesh).rpcServer().running() == 0);
  }

  /** Random bytes of a seed, the first byte the seed itself. */
  private static ByteString numbered(int seed) {
    byte[] bytes = bytes(SIZE, seed);
    bytes[0] = (byte) seed;
    return ByteString.copyFrom(bytes);
  }
}

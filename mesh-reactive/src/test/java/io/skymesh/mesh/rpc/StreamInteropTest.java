package io.skymesh.mesh.rpc;

import static io.skymesh.mesh.TestMeshes.register;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import com.google.protobuf.Int32Value;
import com.google.protobuf.InvalidProtocolBufferException;
import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.MeshTimeoutException;
import io.skymesh.core.exceptions.RemoteException;
import io.skymesh.core.exceptions.Statuses;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.TestMeshes;
import io.skymesh.mesh.internal.DefaultMesh;
import io.skymesh.proto.StatusCode;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.test.StepVerifier;

/**
 * gRPC's interop test cases for streams, over real TCP between two meshes and a real name server:
 * server streaming with sizes, client streaming, ping-pong, an empty stream, cancel after begin,
 * cancel after the first response, timeout on a sleeping server; plus errors mid-stream, unknown
 * methods, metadata and interceptors. BlockHound and the paranoid leak detector are on (testkit).
 */
class StreamInteropTest {

  private static final Duration DEADLINE = TestMeshes.DEADLINE;
  private static final ServiceUrl SERVER = ServiceUrl.parse("game.zone1.test/1");
  private static final List<Integer> RESPONSE_SIZES = List.of(31415, 9, 2653, 58979);
  private static final List<Integer> REQUEST_SIZES = List.of(27182, 8, 1828, 45904);

  private TestMeshes fixture;
  private Mesh serverMesh;
  private MeshService client;

  private final AtomicInteger handlerCancelled = new AtomicInteger();
  private final Sinks.Many<String> handlerStarted = Sinks.many().replay().all();

  @BeforeEach
  void start() {
    fixture = TestMeshes.withNameServer();
    Methods methods =
        Methods.builder()
            .addStream(
                "StreamingOutputCall",
                // The request lists the reply sizes, one Int32Value each.
                request ->
                    Flux.fromIterable(sizes(request.payload()))
                        .map(size -> Reply.of(ByteString.copyFrom(new byte[size]))))
            .addChannel(
                "StreamingInputCall",
                requests ->
                    requests
                        .map(request -> request.payload().size())
                        .reduce(0, Integer::sum)
                        .map(total -> Reply.of(Int32Value.of(total)))
                        .flux())
            .addChannel(
                "FullDuplexCall",
                // Each request is the size of its reply.
                requests ->
                    requests.map(
                        request ->
                            Reply.of(ByteString.copyFrom(new byte[sizeOf(request.payload())]))
                                .withHeaders(request.headers())))
            .addStream(
                "Sleep",
                request ->
                    Flux.<Reply>never()
                        .doOnSubscribe(s -> handlerStarted.tryEmitNext(request.method()))
                        .doOnCancel(handlerCancelled::incrementAndGet))
            .addChannel(
                "SleepAfterFirst",
                requests ->
                    requests
                        .take(1)
                        .map(request -> Reply.of(request.payload()))
                        .concatWith(Flux.never())
                        .doOnCancel(handlerCancelled::incrementAndGet))
            .addStream(
                "FailAfterTwo",
                request ->
                    Flux.just(Reply.of(ByteString.copyFromUtf8("a")), Reply.empty())
                        .concatWith(
                            Flux.error(
                                Statuses.toException(
                                    StatusCode.FAILED_PRECONDITION, "ran out of luck"))))
            .addStream(
                "Headers", request -> Flux.just(Reply.empty().withHeaders(request.headers())))
            .add("Unary", request -> Mono.just(Reply.of(request.payload())))
            .build();
    serverMesh = fixture.mesh();
    register(serverMesh, SERVER.toString(), methods);
    client = register(fixture.mesh(), "game.zone1.client/1");
  }

  @AfterEach
  void stop() {
    fixture.close();
  }

  @Test
  void serverStreamingRepliesWithEachSizeInOrder() {
    StepVerifier.create(
            client.requestStream(SERVER, "StreamingOutputCall", sizesPayload(RESPONSE_SIZES)))
        .assertNext(reply -> assertThat(reply.payload().size()).isEqualTo(31415))
        .assertNext(reply -> assertThat(reply.payload().size()).isEqualTo(9))
        .assertNext(reply -> assertThat(reply.payload().size()).isEqualTo(2653))
        .assertNext(reply -> assertThat(reply.payload().size()).isEqualTo(58979))
        .expectComplete()
        .verify(DEADLINE);
  }

  @Test
  void clientStreamingGetsTheSumOfTheRequestSizes() {
    Flux<ByteString> requests =
        Flux.fromIterable(REQUEST_SIZES).map(size -> ByteString.copyFrom(new byte[size]));

    StepVerifier.create(
            client
                .requestChannel(SERVER, "StreamingInputCall", requests)
                .map(reply -> sizeOf(reply.payload())))
        .expectNext(74922)
        .expectComplete()
        .verify(DEADLINE);
  }

  @Test
  void pingPongSendsEachRequestAfterTheReplyBefore() {
    Sinks.Many<ByteString> requests = Sinks.many().unicast().onBackpressureBuffer();
    AtomicInteger turn = new AtomicInteger();
    requests.tryEmitNext(sizePayload(RESPONSE_SIZES.get(0)));

    StepVerifier.create(
            client
                .requestChannel(SERVER, "FullDuplexCall", requests.asFlux())
                .doOnNext(
                    reply -> {
                      int next = turn.incrementAndGet();
                      if (next < RESPONSE_SIZES.size()) {
                        requests.tryEmitNext(sizePayload(RESPONSE_SIZES.get(next)));
                      } else {
                        requests.tryEmitComplete();
                      }
                    })
                .map(reply -> reply.payload().size()))
        .expectNextSequence(RESPONSE_SIZES)
        .expectComplete()
        .verify(DEADLINE);
  }

  @Test
  void emptyStreamCompletesWithoutReplies() {
    StepVerifier.create(client.requestChannel(SERVER, "FullDuplexCall", Flux.empty()))
        .expectComplete()
        .verify(DEADLINE);
  }

  @Test
  void cancelAfterBeginDisposesTheHandler() {
    Disposable stream = client.requestStream(SERVER, "Sleep", ByteString.EMPTY).subscribe();
    StepVerifier.create(handlerStarted.asFlux().take(1)).expectNext("Sleep").verifyComplete();

    stream.dispose();

    await().atMost(DEADLINE).until(() -> handlerCancelled.get() == 1);
    await().atMost(DEADLINE).until(() -> ((DefaultMesh) serverMesh).rpcServer().running() == 0);
  }

  @Test
  void cancelAfterFirstResponseDisposesBothEnds() {
    AtomicInteger uploadCancelled = new AtomicInteger();
    Flux<ByteString> requests =
        Flux.just(sizePayload(7))
            .concatWith(Flux.never())
            .doOnCancel(uploadCancelled::incrementAndGet);

    StepVerifier.create(client.requestChannel(SERVER, "SleepAfterFirst", requests))
        .assertNext(reply -> assertThat(reply.payload()).isEqualTo(sizePayload(7)))
        .thenCancel()
        .verify(DEADLINE);

    await().atMost(DEADLINE).until(() -> handlerCancelled.get() == 1);
    assertThat(uploadCancelled.get()).isEqualTo(1);
    await().atMost(DEADLINE).until(() -> ((DefaultMesh) serverMesh).rpcServer().running() == 0);
  }

  @Test
  void timeoutOnSleepingServerFailsTheStreamAndStopsTheHandler() {
    StepVerifier.create(
            client.requestStream(
                SERVER,
                "Sleep",
                ByteString.EMPTY,
                RequestOptions.defaults().withTimeout(Duration.ofMillis(200))))
        .expectErrorSatisfies(
            e ->
                assertThat(e)
                    .isInstanceOf(MeshTimeoutException.class)
                    .hasMessageContaining(SERVER + " Sleep"))
        .verify(DEADLINE);

    await().atMost(DEADLINE).until(() -> handlerCancelled.get() == 1);
  }

  @Test
  void anErrorMidStreamArrivesAfterTheRepliesBeforeIt() {
    StepVerifier.create(client.requestStream(SERVER, "FailAfterTwo", ByteString.EMPTY))
        .assertNext(reply -> assertThat(reply.payload().toStringUtf8()).isEqualTo("a"))
        .assertNext(reply -> assertThat(reply.payload().isEmpty()).isTrue())
        .expectErrorSatisfies(
            e -> {
              assertThat(e).isInstanceOf(RemoteException.class);
              assertThat(((RemoteException) e).statusCode())
                  .isEqualTo(StatusCode.FAILED_PRECONDITION);
              assertThat(e).hasMessageContaining(SERVER + " FailAfterTwo: ran out of luck");
            })
        .verify(DEADLINE);
  }

  @Test
  void unknownMethodsAndMethodsOfAnotherKindAreUnimplemented() {
    StepVerifier.create(client.requestStream(SERVER, "NoSuchMethod", ByteString.EMPTY))
        .expectErrorSatisfies(
            e -> {
              assertThat(((RemoteException) e).statusCode()).isEqualTo(StatusCode.UNIMPLEMENTED);
              assertThat(e).hasMessageContaining("NoSuchMethod is not implemented");
            })
        .verify(DEADLINE);
    StepVerifier.create(client.requestStream(SERVER, "Unary", ByteString.EMPTY))
        .expectErrorSatisfies(
            e -> assertThat(e).hasMessageContaining("Unary of " + SERVER + " is not a stream"))
        .verify(DEADLINE);
    StepVerifier.create(client.requestChannel(SERVER, "StreamingOutputCall", Flux.empty()))
        .expectErrorSatisfies(e -> assertThat(e).hasMessageContaining("is not a channel method"))
        .verify(DEADLINE);
    StepVerifier.create(client.request(SERVER, "StreamingOutputCall", ByteString.EMPTY))
        .expectErrorSatisfies(
            e -> assertThat(((RemoteException) e).statusCode()).isEqualTo(StatusCode.UNIMPLEMENTED))
        .verify(DEADLINE);
  }

  @Test
  void customMetadataTravelsWithTheOpenAndTheReplies() {
    RequestOptions options = RequestOptions.defaults().withHeader("x-grpc-test-echo", "initial");

    StepVerifier.create(client.requestStream(SERVER, "Headers", ByteString.EMPTY, options))
        .assertNext(
            reply -> assertThat(reply.headers()).containsEntry("x-grpc-test-echo", "initial"))
        .expectComplete()
        .verify(DEADLINE);
    // A channel's first request carries the open's headers.
    StepVerifier.create(
            client.requestChannel(
                SERVER, "FullDuplexCall", Flux.just(sizePayload(1), sizePayload(2)), options))
        .assertNext(
            reply -> assertThat(reply.headers()).containsEntry("x-grpc-test-echo", "initial"))
        .assertNext(reply -> assertThat(reply.headers()).isEmpty())
        .expectComplete()
        .verify(DEADLINE);
  }

  @Test
  void requestsAndStreamsShareOneConnection() {
    StepVerifier.create(
            Flux.merge(
                    client.requestStream(
                        SERVER, "StreamingOutputCall", sizesPayload(RESPONSE_SIZES)),
                    client.request(SERVER, "Unary", ByteString.copyFromUtf8("x")),
                    client.requestChannel(
                        SERVER,
                        "FullDuplexCall",
                        Flux.range(1, 50).map(StreamInteropTest::sizePayload)))
                .count())
        .expectNext(4L + 1 + 50)
        .expectComplete()
        .verify(DEADLINE);
  }

  static ByteString sizesPayload(List<Integer> sizes) {
    ByteString.Output out = ByteString.newOutput();
    for (int size : sizes) {
      try {
        Int32Value.of(size).writeDelimitedTo(out);
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    }
    return out.toByteString();
  }

  static List<Integer> sizes(ByteString payload) {
    InputStream in = payload.newInput();
    ArrayList<Integer> sizes = new ArrayList<>();
    try {
      for (Int32Value size; (size = Int32Value.parseDelimitedFrom(in)) != null; ) {
        sizes.add(size.getValue());
      }
    } catch (IOException e) {
      throw new IllegalArgumentException(e);
    }
    return sizes;
  }

  static ByteString sizePayload(int size) {
    return Int32Value.of(size).toByteString();
  }

  static int sizeOf(ByteString payload) {
    try {
      return Int32Value.parseFrom(payload).getValue();
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException(e);
    }
  }
}

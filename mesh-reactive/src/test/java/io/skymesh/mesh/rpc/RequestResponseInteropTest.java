package io.skymesh.mesh.rpc;

import static io.skymesh.mesh.TestMeshes.register;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import com.google.protobuf.StringValue;
import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.MeshTimeoutException;
import io.skymesh.core.exceptions.RemoteException;
import io.skymesh.core.exceptions.Statuses;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshBuilder;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.TestMeshes;
import io.skymesh.mesh.internal.DefaultMesh;
import io.skymesh.proto.StatusCode;
import java.time.Duration;
import java.util.List;
import java.util.Random;
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
 * gRPC's interop test cases, over real TCP between two meshes and a real name server: empty
 * request, large request and reply, status code and message, unimplemented method, cancel after
 * begin, timeout on a sleeping server, concurrent large requests, custom metadata both ways,
 * sequential ping-pongs. BlockHound and the paranoid leak detector are on (testkit).
 */
class RequestResponseInteropTest {

  private static final Duration DEADLINE = TestMeshes.DEADLINE;
  private static final ServiceUrl SERVER = ServiceUrl.parse("game.zone1.test/1");
  private static final int FOUR_MIB = 4 * 1024 * 1024;

  TestMeshes fixture;
  Mesh serverMesh;
  Mesh clientMesh;
  MeshService client;

  /** Cancellations and subscriptions the server's handlers saw. */
  private final AtomicInteger handlerCancelled = new AtomicInteger();

  private final Sinks.Many<String> handlerStarted = Sinks.many().replay().all();

  @BeforeEach
  void start() {
    fixture = TestMeshes.withNameServer();
    Methods methods =
        Methods.builder()
            .add("EmptyCall", request -> Mono.just(Reply.empty()))
            .add(
                "UnaryCall",
                // Echoes the payload, and the headers as response metadata.
                request -> Mono.just(Reply.of(request.payload()).withHeaders(request.headers())))
            .add(
                "Large",
                request ->
                    Mono.just(Reply.of(ByteString.copyFrom(bytes(request.payload().size(), 2)))))
            .add(
                "Fail",
                request ->
                    Mono.error(
                        Statuses.toException(StatusCode.UNKNOWN, request.payload().toStringUtf8())))
            .add(
                "Throw",
                request -> {
                  throw new IllegalStateException("thrown, not signalled");
                })
            .add(
                "Sleep",
                request ->
                    Mono.<Reply>never()
                        .doOnSubscribe(s -> handlerStarted.tryEmitNext(request.method()))
                        .doOnCancel(handlerCancelled::incrementAndGet))
            .add(
                "Typed",
                StringValue.parser(),
                value -> Mono.just(StringValue.of("hello " + value.getValue())))
            .build();
    serverMesh = fixture.mesh(b -> transport(b.maxFrameLength(8 * 1024 * 1024)));
    register(serverMesh, SERVER.toString(), methods);
    clientMesh = fixture.mesh(b -> transport(b.maxFrameLength(8 * 1024 * 1024)));
    client = register(clientMesh, "game.zone1.client/1");
  }

  /** How the meshes talk: plaintext here, TLS in {@code RequestResponseInteropTlsTest}. */
  MeshBuilder transport(MeshBuilder mesh) {
    return mesh;
  }

  @AfterEach
  void stop() {
    fixture.close();
  }

  @Test
  void emptyRequestGetsAnEmptyReply() {
    StepVerifier.create(client.request(SERVER, "EmptyCall", ByteString.EMPTY))
        .assertNext(
            reply -> {
              assertThat(reply.payload().isEmpty()).isTrue();
              assertThat(reply.headers()).isEmpty();
            })
        .expectComplete()
        .verify(DEADLINE);
  }

  @Test
  void largeRequestAndReplyOfFourMebibytes() {
    ByteString request = ByteString.copyFrom(bytes(FOUR_MIB, 1));

    StepVerifier.create(client.request(SERVER, "Large", request))
        .assertNext(
            reply -> assertThat(reply.payload()).isEqualTo(ByteString.copyFrom(bytes(FOUR_MIB, 2))))
        .expectComplete()
        .verify(DEADLINE);
  }

  @Test
  void statusCodeAndMessageReachTheCaller() {
    StepVerifier.create(
            client.request(SERVER, "Fail", ByteString.copyFromUtf8("test status message")))
        .expectErrorSatisfies(
            e -> {
              assertThat(e).isInstanceOf(RemoteException.class);
              RemoteException remote = (RemoteException) e;
              assertThat(remote.statusCode()).isEqualTo(StatusCode.UNKNOWN);
              assertThat(remote.statusMessage()).isEqualTo(SERVER + " Fail: test status message");
            })
        .verify(DEADLINE);
  }

  @Test
  void aHandlerThatThrowsStillAnswers() {
    StepVerifier.create(client.request(SERVER, "Throw", ByteString.EMPTY))
        .expectErrorSatisfies(
            e ->
                assertThat(e)
                    .isInstanceOf(RemoteException.class)
                    .hasMessageContaining("UNKNOWN")
                    .hasMessageContaining("thrown, not signalled"))
        .verify(DEADLINE);
  }

  @Test
  void unimplementedMethodAnswersUnimplemented() {
    StepVerifier.create(client.request(SERVER, "NoSuchMethod", ByteString.EMPTY))
        .expectErrorSatisfies(
            e -> {
              assertThat(e)
                  .isInstanceOf(RemoteException.class)
                  .hasMessageContaining("NoSuchMethod");
              assertThat(((RemoteException) e).statusCode()).isEqualTo(StatusCode.UNIMPLEMENTED);
            })
        .verify(DEADLINE);
  }

  @Test
  void cancelAfterBeginDisposesTheHandlerOnTheServer() {
    Disposable call = client.request(SERVER, "Sleep", ByteString.EMPTY).subscribe();
    StepVerifier.create(handlerStarted.asFlux().take(1))
        .expectNext("Sleep")
        .expectComplete()
        .verify(DEADLINE);
    assertThat(((DefaultMesh) serverMesh).rpcServer().running()).isEqualTo(1);

    call.dispose();

    await().atMost(DEADLINE).until(() -> handlerCancelled.get() == 1);
    await().atMost(DEADLINE).until(() -> ((DefaultMesh) serverMesh).rpcServer().running() == 0);
  }

  @Test
  void timeoutOnASleepingServerIsTypedAndStopsTheHandler() {
    RequestOptions options = RequestOptions.defaults().withTimeout(Duration.ofMillis(300));

    StepVerifier.create(client.request(SERVER, "Sleep", ByteString.EMPTY, options))
        .expectError(MeshTimeoutException.class)
        .verify(DEADLINE);

    await().atMost(DEADLINE).until(() -> handlerCancelled.get() == 1);
    await().atMost(DEADLINE).until(() -> ((DefaultMesh) serverMesh).rpcServer().running() == 0);
  }

  @Test
  void concurrentLargeRequests() {
    int calls = 8;
    int size = 1024 * 1024;

    List<Integer> sizes =
        Flux.range(0, calls)
            .flatMap(
                i ->
                    client
                        .request(SERVER, "UnaryCall", ByteString.copyFrom(bytes(size, i)))
                        .doOnNext(
                            reply ->
                                assertThat(reply.payload())
                                    .isEqualTo(ByteString.copyFrom(bytes(size, i))))
                        .map(reply -> reply.payload().size()))
            .collectList()
            .block(DEADLINE);

    assertThat(sizes).hasSize(calls).containsOnly(size);
  }

  @Test
  void customMetadataTravelsBothWays() {
    RequestOptions options =
        RequestOptions.defaults()
            .withHeader("x-grpc-test-echo-initial", "test_initial_metadata_value")
            .withHeader("x-grpc-test-echo-trailing-bin", "ababab");

    StepVerifier.create(client.request(SERVER, "UnaryCall", ByteString.copyFromUtf8("x"), options))
        .assertNext(
            reply ->
                assertThat(reply.headers())
                    .containsEntry("x-grpc-test-echo-initial", "test_initial_metadata_value")
                    .containsEntry("x-grpc-test-echo-trailing-bin", "ababab"))
        .expectComplete()
        .verify(DEADLINE);
  }

  @Test
  void tenThousandSequentialPingPongs() {
    int count = 10_000;

    Long matched =
        Flux.range(0, count)
            .concatMap(
                i ->
                    client
                        .request(SERVER, "UnaryCall", TestMeshes.sequence(i))
                        .map(reply -> reply.payload().asReadOnlyByteBuffer().getLong() == i))
            .filter(ok -> ok)
            .count()
            .block(DEADLINE);

    assertThat(matched).isEqualTo(count);
  }

  @Test
  void protobufMessagesBothWays() {
    StepVerifier.create(
            client.request(SERVER, "Typed", StringValue.of("mesh"), StringValue.parser()))
        .expectNext(StringValue.of("hello mesh"))
        .expectComplete()
        .verify(DEADLINE);
  }

  @Test
  void aRequestThatDoesNotParseIsAnInvalidArgument() {
    StepVerifier.create(
            client.request(SERVER, "Typed", ByteString.copyFrom(new byte[] {(byte) 0xff})))
        .expectErrorSatisfies(
            e ->
                assertThat(((RemoteException) e).statusCode())
                    .isEqualTo(StatusCode.INVALID_ARGUMENT))
        .verify(DEADLINE);
  }

  static byte[] bytes(int size, long seed) {
    byte[] bytes = new byte[size];
    new Random(seed).nextBytes(bytes);
    return bytes;
  }
}

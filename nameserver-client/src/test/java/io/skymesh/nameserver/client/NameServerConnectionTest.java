package io.skymesh.nameserver.client;

import static io.skymesh.nameserver.client.ScriptedNameServer.ACK_ALL;
import static io.skymesh.nameserver.client.ScriptedNameServer.TIMEOUT;
import static io.skymesh.nameserver.client.ScriptedNameServer.ack;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.skymesh.codec.CorruptFrameException;
import io.skymesh.codec.FrameTooLargeException;
import io.skymesh.codec.Frames;
import io.skymesh.codec.TruncatedFrameException;
import io.skymesh.core.exceptions.MeshClosedException;
import io.skymesh.core.exceptions.MeshTimeoutException;
import io.skymesh.core.exceptions.OverloadedException;
import io.skymesh.core.exceptions.PeerUnavailableException;
import io.skymesh.core.exceptions.SkymeshException;
import io.skymesh.proto.Ack;
import io.skymesh.proto.KeepAlive;
import io.skymesh.proto.KvGet;
import io.skymesh.proto.KvPut;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.Status;
import io.skymesh.proto.StatusCode;
import io.skymesh.proto.WatchEvent;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;

/** The connection against a real TCP server on loopback that answers as each test scripts. */
class NameServerConnectionTest {

  private final List<AutoCloseable> resources = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (AutoCloseable resource : resources) {
      resource.close();
    }
  }

  private ScriptedNameServer server(Function<NameClientFrame, List<NameServerFrame>> script) {
    ScriptedNameServer server = ScriptedNameServer.start(script);
    resources.add(server);
    return server;
  }

  private NameServerConnection connect(NameServerConnection.Builder builder) {
    NameServerConnection connection = builder.connect().block(TIMEOUT);
    resources.add(() -> connection.close().block(TIMEOUT));
    return connection;
  }

  private NameServerConnection connect(ScriptedNameServer server) {
    return connect(NameServerConnection.builder("127.0.0.1", server.port()));
  }

  private static NameClientFrame.Builder keepAlive() {
    return NameClientFrame.newBuilder().setKeepAlive(KeepAlive.getDefaultInstance());
  }

  private static NameClientFrame.Builder kvGet(String key) {
    return NameClientFrame.newBuilder().setKvGet(KvGet.newBuilder().setKey(key));
  }

  private static NameServerFrame error(long requestId, StatusCode code, String message) {
    return NameServerFrame.newBuilder()
        .setError(
            io.skymesh.proto.Error.newBuilder()
                .setRequestId(requestId)
                .setStatus(Status.newBuilder().setCode(code).setMessage(message)))
        .build();
  }

  private static NameServerFrame watchEvent(long watchId, long revision) {
    return NameServerFrame.newBuilder()
        .setWatchEvent(
            WatchEvent.newBuilder()
                .setWatchId(watchId)
                .setRevision(revision)
                .setInstanceRemoved(
                    io.skymesh.proto.InstanceRemoved.newBuilder().setUrl("a.b.c/" + revision)))
        .build();
  }

  @Test
  void eachRequestGetsItsOwnAnswerWhateverTheOrderTheyComeIn() {
    // Answers the KvGet of "k<n>" with revision n; holds each even request back until the next.
    List<NameClientFrame> held = new CopyOnWriteArrayList<>();
    ScriptedNameServer server =
        server(
            request -> {
              long n = Long.parseLong(request.getKvGet().getKey().substring(1));
              NameServerFrame answer = ack(request.getRequestId(), n);
              if (n % 2 == 0) {
                held.add(request);
                return List.of();
              }
              NameClientFrame before = held.remove(0);
              long m = Long.parseLong(before.getKvGet().getKey().substring(1));
              return List.of(answer, ack(before.getRequestId(), m)); // reversed
            });
    NameServerConnection connection = connect(server);

    // Pipelined: all 200 are subscribed at once, none waits for an earlier answer.
    List<Long> revisions =
        Flux.range(0, 200)
            .flatMapSequential(i -> connection.request(kvGet("k" + i)).map(Ack::getRevision), 200)
            .collectList()
            .block(TIMEOUT);

    assertThat(revisions).isEqualTo(Flux.range(0, 200).map(i -> (long) i).collectList().block());
    assertThat(server.received()).hasSize(200);
    assertThat(server.received().stream().map(NameClientFrame::getRequestId).distinct())
        .hasSize(200)
        .doesNotContain(0L);
    assertThat(connection.pendingRequests()).isZero();
  }

  @ParameterizedTest
  @CsvSource({
    "NOT_FOUND, io.skymesh.core.exceptions.ServiceNotFoundException",
    "ALREADY_EXISTS, io.skymesh.core.exceptions.AlreadyRegisteredException",
    "UNAVAILABLE, io.skymesh.core.exceptions.PeerUnavailableException",
    "RESOURCE_EXHAUSTED, io.skymesh.core.exceptions.OverloadedException",
    "ABORTED, io.skymesh.core.exceptions.NotLeaderException",
    "FAILED_PRECONDITION, io.skymesh.core.exceptions.RemoteException",
    "INVALID_ARGUMENT, io.skymesh.core.exceptions.RemoteException",
  })
  void anErrorAnswerFailsTheRequestWithTheTypedExceptionOfItsStatus(
      StatusCode code, Class<? extends SkymeshException> expected) {
    ScriptedNameServer server =
        server(request -> List.of(error(request.getRequestId(), code, "refused for a test")));
    NameServerConnection connection = connect(server);

    StepVerifier.create(connection.request(kvGet("k"), "key k"))
        .expectErrorSatisfies(
            e -> {
              assertThat(e).isExactlyInstanceOf(expected);
              assertThat(((SkymeshException) e).statusCode()).isEqualTo(code);
              assertThat(e.getMessage()).contains("key k: refused for a test");
            })
        .verify(TIMEOUT);
    // The raw answer is there for owners that map it themselves.
    StepVerifier.create(connection.exchange(kvGet("k")))
        .assertNext(frame -> assertThat(frame.getError().getStatus().getCode()).isEqualTo(code))
        .expectComplete()
        .verify(TIMEOUT);
    assertThat(connection.isDisposed()).isFalse();
  }

  @Test
  void aRequestPastItsDeadlineFailsAndTheConnectionGoesOn() {
    // Never answers the key "silent"; answers anything else.
    ScriptedNameServer server =
        server(
            request ->
                request.getKvGet().getKey().equals("silent")
                    ? List.of()
                    : List.of(ack(request.getRequestId(), 7)));
    NameServerConnection connection = connect(server);

    StepVerifier.create(connection.request(kvGet("silent"), "key silent", Duration.ofMillis(200)))
        .expectErrorSatisfies(
            e ->
                assertThat(e)
                    .isInstanceOf(MeshTimeoutException.class)
                    .hasMessageContaining("key silent: no answer from name server")
                    .hasMessageContaining("within PT0.2S")
                    .hasCauseInstanceOf(TimeoutException.class))
        .verify(TIMEOUT);
    assertThat(connection.pendingRequests()).isZero();
    StepVerifier.create(connection.exchange(kvGet("silent"), Duration.ofMillis(100)))
        .expectError(MeshTimeoutException.class)
        .verify(TIMEOUT);

    assertThat(connection.request(kvGet("k"), "k", Duration.ofSeconds(5)).block(TIMEOUT))
        .returns(7L, Ack::getRevision);
    assertThat(connection.isDisposed()).isFalse();
  }

  @Test
  void aDeadlineIsTimedOnTheGivenScheduler() {
    ScriptedNameServer server = server(request -> List.of());
    var virtualTime = reactor.test.scheduler.VirtualTimeScheduler.create();
    NameServerConnection connection =
        connect(NameServerConnection.builder("127.0.0.1", server.port()).timer(virtualTime));

    StepVerifier.create(connection.request(keepAlive(), "a keepalive", Duration.ofHours(1)))
        .then(() -> virtualTime.advanceTimeBy(Duration.ofHours(1)))
        .expectError(MeshTimeoutException.class)
        .verify(TIMEOUT);
    virtualTime.dispose();
  }

  @Test
  void disposingFailsEveryWaitingRequestAndLaterOnes() {
    ScriptedNameServer server = server(request -> List.of());
    NameServerConnection connection = connect(server);
    Mono<Ack> first = connection.request(keepAlive()).cache();
    Mono<Ack> second = connection.request(kvGet("k"), "key k").cache();
    first.subscribe(a -> {}, e -> {});
    second.subscribe(a -> {}, e -> {});
    await().atMost(TIMEOUT).until(() -> server.received().size() == 2);
    assertThat(connection.pendingRequests()).isEqualTo(2);

    connection.dispose();

    StepVerifier.create(first).expectError(MeshClosedException.class).verify(TIMEOUT);
    StepVerifier.create(second).expectError(MeshClosedException.class).verify(TIMEOUT);
    StepVerifier.create(connection.onClose()).expectComplete().verify(TIMEOUT);
    StepVerifier.create(connection.events()).expectComplete().verify(TIMEOUT);
    StepVerifier.create(connection.request(keepAlive()))
        .expectError(MeshClosedException.class)
        .verify(TIMEOUT);
    assertThat(connection.pendingRequests()).isZero();
  }

  @Test
  void theServerClosingFailsEveryWaitingRequestAsUnavailable() {
    ScriptedNameServer server = server(request -> List.of());
    NameServerConnection connection = connect(server);
    Mono<Ack> waiting = connection.request(keepAlive()).cache();
    waiting.subscribe(a -> {}, e -> {});
    await().atMost(TIMEOUT).until(() -> server.received().size() == 1);

    server.closeConnection().block(TIMEOUT);

    StepVerifier.create(waiting)
        .expectErrorSatisfies(
            e ->
                assertThat(e)
                    .isInstanceOf(PeerUnavailableException.class)
                    .hasMessageContaining("closed the connection"))
        .verify(TIMEOUT);
    StepVerifier.create(connection.onClose())
        .expectError(PeerUnavailableException.class)
        .verify(TIMEOUT);
    StepVerifier.create(connection.request(keepAlive()))
        .expectError(PeerUnavailableException.class)
        .verify(TIMEOUT);
    // close() completes whatever closed the connection.
    StepVerifier.create(connection.close()).expectComplete().verify(TIMEOUT);
  }

  @Test
  void abortFailsWaitingRequestsWithTheOwnersReason() {
    ScriptedNameServer server = server(request -> List.of());
    NameServerConnection connection = connect(server);
    Mono<Ack> waiting = connection.request(keepAlive()).cache();
    waiting.subscribe(a -> {}, e -> {});
    await().atMost(TIMEOUT).until(() -> server.received().size() == 1);

    MeshTimeoutException reason = new MeshTimeoutException("no answer to a keepalive");
    connection.abort(reason);

    StepVerifier.create(waiting)
        .expectErrorSatisfies(
            e ->
                assertThat(e)
                    .isInstanceOf(PeerUnavailableException.class)
                    .hasMessageContaining("no answer to a keepalive")
                    .hasCause(reason))
        .verify(TIMEOUT);
    StepVerifier.create(connection.onClose()).expectErrorMatches(e -> e == reason).verify(TIMEOUT);
  }

  @Test
  void aSessionErrorEndsTheConnectionWithItsTypedStatus() {
    ScriptedNameServer server = server(request -> List.of());
    NameServerConnection connection = connect(server);
    Mono<Ack> waiting = connection.request(keepAlive()).cache();
    waiting.subscribe(a -> {}, e -> {});
    await().atMost(TIMEOUT).until(() -> server.received().size() == 1);

    server.push(error(0, StatusCode.DEADLINE_EXCEEDED, "session 7 expired"));

    StepVerifier.create(connection.onClose())
        .expectErrorSatisfies(
            e ->
                assertThat(e)
                    .isInstanceOf(MeshTimeoutException.class)
                    .hasMessageContaining("ended the session: session 7 expired"))
        .verify(TIMEOUT);
    StepVerifier.create(waiting)
        .expectErrorSatisfies(
            e ->
                assertThat(e)
                    .isInstanceOf(PeerUnavailableException.class)
                    .hasMessageContaining("session 7 expired")
                    .hasCauseInstanceOf(MeshTimeoutException.class))
        .verify(TIMEOUT);
    StepVerifier.create(server.connection().onDispose()).expectComplete().verify(TIMEOUT);
  }

  @Test
  void aFrameOverTheMaximumClosesTheConnectionWithAClearError() {
    ScriptedNameServer server = server(request -> List.of());
    NameServerConnection connection =
        connect(NameServerConnection.builder("127.0.0.1", server.port()).maxFrameLength(1024));
    Mono<Ack> waiting = connection.request(keepAlive()).cache();
    waiting.subscribe(a -> {}, e -> {});
    await().atMost(TIMEOUT).until(() -> server.received().size() == 1);

    server.pushRaw(Unpooled.buffer().writeInt(4096).writeZero(16));

    StepVerifier.create(connection.onClose())
        .expectErrorSatisfies(
            e ->
                assertThat(e)
                    .isInstanceOf(PeerUnavailableException.class)
                    .hasMessageContaining("sent a bad frame")
                    .hasCauseInstanceOf(FrameTooLargeException.class))
        .verify(TIMEOUT);
    StepVerifier.create(waiting)
        .expectErrorSatisfies(
            e ->
                assertThat(e)
                    .isInstanceOf(PeerUnavailableException.class)
                    .hasMessageContaining("sent a bad frame"))
        .verify(TIMEOUT);
  }

  @Test
  void aBodyThatDoesNotParseClosesTheConnectionWithAClearError() {
    ScriptedNameServer server = server(ACK_ALL);
    NameServerConnection connection = connect(server);
    assertThat(connection.request(keepAlive()).block(TIMEOUT)).isNotNull();

    // Field 1 (ack), length-delimited, claiming 127 bytes where there is one.
    server.pushRaw(Unpooled.buffer().writeInt(3).writeBytes(new byte[] {0x0A, 0x7F, 0x01}));

    StepVerifier.create(connection.onClose())
        .expectErrorSatisfies(
            e ->
                assertThat(e)
                    .isInstanceOf(PeerUnavailableException.class)
                    .hasCauseInstanceOf(CorruptFrameException.class))
        .verify(TIMEOUT);
  }

  @Test
  void aConnectionCutMidFrameClosesWithAClearError() {
    ScriptedNameServer server = server(ACK_ALL);
    NameServerConnection connection = connect(server);
    assertThat(connection.request(keepAlive()).block(TIMEOUT)).isNotNull();

    ByteBuf whole = Frames.encode(PooledByteBufAllocator.DEFAULT, watchEvent(1, 1), 1024);
    ByteBuf half = whole.retainedSlice(0, whole.readableBytes() - 1);
    whole.release();
    server.pushRaw(half);
    // The cut comes after the half frame has left: close once the server has written it.
    await().atMost(TIMEOUT).until(() -> half.refCnt() == 0);
    server.closeConnection().block(TIMEOUT);

    StepVerifier.create(connection.onClose())
        .expectErrorSatisfies(
            e ->
                assertThat(e)
                    .isInstanceOf(PeerUnavailableException.class)
                    .hasCauseInstanceOf(TruncatedFrameException.class))
        .verify(TIMEOUT);
  }

  @Test
  void eventsArriveInOrderAmongTheAnswers() {
    ScriptedNameServer server =
        server(
            request -> {
              // Each request is answered after ten events.
              List<NameServerFrame> frames = new ArrayList<>();
              long base = (request.getRequestId() - 1) * 10;
              for (int i = 1; i <= 10; i++) {
                frames.add(watchEvent(5, base + i));
              }
              frames.add(ack(request.getRequestId(), base + 10));
              return frames;
            });
    NameServerConnection connection = connect(server);

    Flux.range(0, 50).concatMap(i -> connection.request(keepAlive())).blockLast(TIMEOUT);

    StepVerifier.create(connection.events().map(f -> f.getWatchEvent().getRevision()).take(500))
        .expectNextSequence(Flux.range(1, 500).map(i -> (long) i).toIterable())
        .expectComplete()
        .verify(TIMEOUT);
  }

  @Test
  void anEventHandlerGetsTheEventsInOrderOnTheEventLoop() {
    ScriptedNameServer server = server(ACK_ALL);
    List<Long> seen = new CopyOnWriteArrayList<>();
    List<String> threads = new CopyOnWriteArrayList<>();
    NameServerConnection connection =
        connect(
            NameServerConnection.builder("127.0.0.1", server.port())
                .onEvent(
                    frame -> {
                      seen.add(frame.getKvWatchEvent().getRevision());
                      threads.add(Thread.currentThread().getName());
                    }));
    assertThat(connection.request(keepAlive()).block(TIMEOUT)).isNotNull();

    for (long r = 1; r <= 1000; r++) {
      server.push(
          NameServerFrame.newBuilder()
              .setKvWatchEvent(
                  io.skymesh.proto.KvWatchEvent.newBuilder()
                      .setWatchId(3)
                      .setRevision(r)
                      .setDeletedKey("k"))
              .build());
    }

    await().atMost(TIMEOUT).until(() -> seen.size() == 1000);
    assertThat(seen).isSorted().doesNotHaveDuplicates();
    assertThat(threads).allSatisfy(name -> assertThat(name).startsWith("reactor-tcp-"));
    StepVerifier.create(connection.events())
        .expectError(IllegalStateException.class)
        .verify(TIMEOUT);
  }

  @Test
  void aSubscriberThatFallsBehindClosesTheConnectionVisiblyAndLosesNothingSilently() {
    ScriptedNameServer server = server(ACK_ALL);
    NameServerConnection connection =
        connect(NameServerConnection.builder("127.0.0.1", server.port()).eventBufferSize(8));
    assertThat(connection.request(keepAlive()).block(TIMEOUT)).isNotNull();

    // Nobody takes the events: the ninth finds the buffer full.
    for (long r = 1; r <= 20; r++) {
      server.push(watchEvent(1, r));
    }

    StepVerifier.create(connection.onClose())
        .expectErrorSatisfies(
            e ->
                assertThat(e)
                    .isInstanceOf(OverloadedException.class)
                    .hasMessageContaining("waited 8 deep"))
        .verify(TIMEOUT);
    // The subscriber gets the eight buffered events, then the reason: nothing vanished unseen.
    StepVerifier.create(connection.events().map(f -> f.getWatchEvent().getRevision()))
        .expectNext(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L)
        .expectError(OverloadedException.class)
        .verify(TIMEOUT);
  }

  @Test
  void aSubscriberThatKeepsUpIsNeverCutOff() {
    ScriptedNameServer server = server(ACK_ALL);
    NameServerConnection connection =
        connect(NameServerConnection.builder("127.0.0.1", server.port()).eventBufferSize(8));
    List<Long> seen = new CopyOnWriteArrayList<>();
    connection.events().subscribe(f -> seen.add(f.getWatchEvent().getRevision()));

    for (long r = 1; r <= 2000; r++) {
      server.push(watchEvent(1, r));
    }

    await().atMost(TIMEOUT).until(() -> seen.size() == 2000);
    assertThat(seen).isSorted();
    assertThat(connection.isDisposed()).isFalse();
  }

  @Test
  void pausedReadingHoldsFramesUntilResumed() {
    ScriptedNameServer server = server(ACK_ALL);
    NameServerConnection connection = connect(server);
    List<Long> seen = new CopyOnWriteArrayList<>();
    connection.events().subscribe(f -> seen.add(f.getWatchEvent().getRevision()));
    assertThat(connection.request(keepAlive()).block(TIMEOUT)).isNotNull();

    connection.pauseReading();
    // Ordered after the pause on the event loop: the answer waits in the socket.
    Mono<Ack> answer = connection.request(keepAlive()).cache();
    answer.subscribe(a -> {}, e -> {});
    server.push(watchEvent(1, 1));
    await().atMost(TIMEOUT).until(() -> server.received().size() == 2);
    assertThat(connection.pendingRequests()).isOne();

    connection.resumeReading();

    assertThat(answer.block(TIMEOUT)).isNotNull();
    await().atMost(TIMEOUT).until(() -> seen.equals(List.of(1L)));
  }

  @Test
  void aRequestOverTheMaximumFailsAloneAndTheConnectionGoesOn() {
    ScriptedNameServer server = server(ACK_ALL);
    NameServerConnection connection =
        connect(NameServerConnection.builder("127.0.0.1", server.port()).maxFrameLength(64));
    NameClientFrame.Builder big =
        NameClientFrame.newBuilder()
            .setKvPut(KvPut.newBuilder().setKey("k").setValue(ByteString.copyFrom(new byte[100])));

    StepVerifier.create(connection.request(big, "key k"))
        .expectError(OverloadedException.class)
        .verify(TIMEOUT);
    assertThat(connection.pendingRequests()).isZero();
    assertThat(connection.request(keepAlive()).block(TIMEOUT)).isNotNull();
  }

  @Test
  void anAnswerAfterItsDeadlineIsCountedNotMatched() {
    List<NameClientFrame> held = new CopyOnWriteArrayList<>();
    ScriptedNameServer server =
        server(
            request -> {
              if (request.getKvGet().getKey().equals("late")) {
                held.add(request);
                return List.of();
              }
              // Answers the held request late, then this one.
              List<NameServerFrame> answers = new ArrayList<>();
              held.forEach(h -> answers.add(ack(h.getRequestId(), 1)));
              answers.add(ack(request.getRequestId(), 2));
              return answers;
            });
    NameServerConnection connection = connect(server);
    StepVerifier.create(connection.request(kvGet("late"), "late", Duration.ofMillis(100)))
        .expectError(MeshTimeoutException.class)
        .verify(TIMEOUT);

    assertThat(connection.request(kvGet("now")).block(TIMEOUT).getRevision()).isEqualTo(2);
    assertThat(connection.ignoredFrames()).isOne();
  }

  @Test
  void anUnreachableServerIsPeerUnavailable() throws Exception {
    int port;
    try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = socket.getLocalPort();
    }
    StepVerifier.create(NameServerConnection.builder("127.0.0.1", port).connect())
        .expectErrorSatisfies(
            e ->
                assertThat(e)
                    .isInstanceOf(PeerUnavailableException.class)
                    .hasMessageContaining("127.0.0.1:" + port))
        .verify(TIMEOUT);
  }

  @Test
  void badSettingsFailFastNamingTheSetting() {
    assertThatThrownBy(() -> NameServerConnection.builder("127.0.0.1", 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("port: 0 (expected: 1..65535)");
    assertThatThrownBy(() -> NameServerConnection.builder("h", 1).eventBufferSize(0))
        .hasMessage("eventBufferSize: 0 (expected: >= 1)");
    assertThatThrownBy(() -> NameServerConnection.builder("h", 1).connectTimeout(Duration.ZERO))
        .hasMessage("connectTimeout: PT0S (expected: > 0)");
  }
}

package io.skymesh.mesh.internal.transport;

import static io.skymesh.mesh.internal.transport.TestPeers.DEADLINE;
import static io.skymesh.mesh.internal.transport.TestPeers.data;
import static io.skymesh.mesh.internal.transport.TestPeers.sequence;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.skymesh.core.exceptions.MeshClosedException;
import io.skymesh.core.exceptions.OverloadedException;
import io.skymesh.core.exceptions.PeerUnavailableException;
import io.skymesh.proto.GoAway;
import io.skymesh.proto.PeerFrame;
import io.skymesh.proto.Request;
import io.skymesh.proto.Response;
import io.skymesh.proto.Status;
import io.skymesh.proto.StatusCode;
import java.net.ServerSocket;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import reactor.test.StepVerifier;

/** Two or more transports talking over real TCP on loopback. */
class PeerTransportTest {

  private final TestPeers peers = new TestPeers();

  @AfterEach
  void closeTransports() {
    peers.close();
  }

  @Test
  void handshakeExchangesIdentitiesAndDataFlowsBothWaysOnOneConnection() {
    TestPeers.Recorder atA = new TestPeers.Recorder();
    PeerTransport a = peers.start(c -> c.appId("game"), atA);
    // B answers every Data on the connection it came on: the one A opened.
    PeerTransport b =
        peers.start(
            c -> c.appId("game"),
            in ->
                in.peerFrame().hasData()
                    ? in.connection().send(data(sequence(in.peerFrame()) + 1000))
                    : Mono.empty());

    PeerConnection toB = a.connection(b.listenAddress()).block(DEADLINE);

    assertThat(toB.remoteProcessId()).isEqualTo(b.processId());
    assertThat(toB.remoteAppId()).isEqualTo("game");
    assertThat(toB.remoteAddress()).isEqualTo(b.listenAddress());
    assertThat(toB.isInbound()).isFalse();
    assertThat(toB.isOpen()).isTrue();

    StepVerifier.create(toB.send(data(1)).then(toB.send(data(2))))
        .expectComplete()
        .verify(DEADLINE);

    await().atMost(DEADLINE).until(() -> atA.frames.size() == 2);
    assertThat(atA.frames).extracting(in -> sequence(in.peerFrame())).containsExactly(1001L, 1002L);
    assertThat(atA.frames).allSatisfy(in -> assertThat(in.connection()).isSameAs(toB));
    assertThat(b.acceptedConnections()).isEqualTo(1);
    assertThat(a.acceptedConnections()).isZero();
  }

  @Test
  void framesOfMixedSizesEchoedFromTheEventLoopArriveWholeAndInOrder() {
    // Sizes that make the drain size its buffers by what waits, and guess wrong: a small frame
    // first and large ones behind it, or the other way round, and frames over the largest buffer.
    int[] sizes = {100, 1_000, 5_000, 40_000, 70_000, 300, 20_000};
    int count = 700;
    TestPeers.Recorder atA = new TestPeers.Recorder();
    PeerTransport a = peers.start(atA);
    // B echoes every Data from its event loop, on the connection it came on.
    PeerTransport b =
        peers.start(
            in -> in.peerFrame().hasData() ? in.connection().send(in.peerFrame()) : Mono.empty());
    PeerConnection toB = a.connection(b.listenAddress()).block(DEADLINE);
    List<PeerFrame> sent =
        IntStream.range(0, count).mapToObj(i -> patterned(i, sizes[i % sizes.length])).toList();

    StepVerifier.create(Flux.fromIterable(sent).flatMap(toB::send, count))
        .expectComplete()
        .verify(DEADLINE);

    await().atMost(DEADLINE).until(() -> atA.frames.size() == count);
    List<PeerFrame> echoes = atA.frames.stream().map(InboundFrame::peerFrame).toList();
    for (int i = 0; i < count; i++) {
      assertThat(echoes.get(i)).as("echo %d", i).isEqualTo(sent.get(i));
    }
  }

  /** A Data frame of {@code size} payload bytes that only frame {@code index} has. */
  private static PeerFrame patterned(int index, int size) {
    byte[] payload = new byte[size];
    for (int i = 0; i < size; i++) {
      payload[i] = (byte) (index * 31 + i);
    }
    PeerFrame frame = data(index);
    return frame.toBuilder()
        .setData(frame.getData().toBuilder().setPayload(ByteString.copyFrom(payload)))
        .build();
  }

  @Test
  void theAcceptedConnectionKnowsTheDialerAndCarriesReplies() {
    TestPeers.Recorder atA = new TestPeers.Recorder();
    TestPeers.Recorder atB = new TestPeers.Recorder();
    PeerTransport a = peers.start(c -> c.appId("left"), atA);
    PeerTransport b = peers.start(atB);

    PeerConnection toB = a.connection(b.listenAddress()).block(DEADLINE);
    toB.send(data(7)).block(DEADLINE);
    await().atMost(DEADLINE).until(() -> !atB.frames.isEmpty());

    PeerConnection fromA = atB.frames.peek().connection();
    assertThat(fromA.isInbound()).isTrue();
    assertThat(fromA.remoteProcessId()).isEqualTo(a.processId());
    assertThat(fromA.remoteAddress()).isEqualTo(a.listenAddress());
    assertThat(fromA.remoteAppId()).isEqualTo("left");

    StepVerifier.create(fromA.send(data(8))).expectComplete().verify(DEADLINE);
    await().atMost(DEADLINE).until(() -> !atA.frames.isEmpty());
    assertThat(sequence(atA.frames.peek().peerFrame())).isEqualTo(8);
    assertThat(a.acceptedConnections()).isZero();
  }

  @Test
  void concurrentFirstSendsShareOneConnection() {
    TestPeers.Recorder atB = new TestPeers.Recorder();
    PeerTransport a = peers.start(InboundDispatcher.discarding());
    PeerTransport b = peers.start(atB);
    Set<PeerConnection> used = ConcurrentHashMap.newKeySet();

    Flux.range(0, 100)
        .parallel(8)
        .runOn(Schedulers.parallel())
        .flatMap(
            i ->
                a.connection(b.listenAddress())
                    .doOnNext(used::add)
                    .flatMap(connection -> connection.send(data(i))))
        .then()
        .block(DEADLINE);

    await().atMost(DEADLINE).until(() -> atB.frames.size() == 100);
    assertThat(b.acceptedConnections()).isEqualTo(1);
    assertThat(used).hasSize(1);
  }

  @Test
  void connectingToAPortNobodyListensOnFailsWithPeerUnavailable() throws Exception {
    PeerTransport a = peers.start(InboundDispatcher.discarding());
    int port;
    try (ServerSocket socket = new ServerSocket(0)) {
      port = socket.getLocalPort();
    }
    String address = "127.0.0.1:" + port;

    StepVerifier.create(a.connection(address))
        .expectErrorSatisfies(
            error ->
                assertThat(error)
                    .isInstanceOf(PeerUnavailableException.class)
                    .hasMessageContaining(address))
        .verify(DEADLINE);
    // The failure is not cached: the next use dials again, and fails again.
    StepVerifier.create(a.connection(address))
        .expectError(PeerUnavailableException.class)
        .verify(DEADLINE);
  }

  @Test
  void aBadAddressIsRefusedAtOnce() {
    PeerTransport a = peers.start(InboundDispatcher.discarding());

    assertThatThrownBy(() -> a.connection("no-port"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("no-port");
    assertThatThrownBy(() -> a.connection("host:99999"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("99999");
  }

  @Test
  void releaseClosesTheConnectionAndTheNextUseReconnects() {
    TestPeers.Recorder atB = new TestPeers.Recorder();
    PeerTransport a = peers.start(InboundDispatcher.discarding());
    PeerTransport b = peers.start(atB);

    PeerConnection first = a.connection(b.listenAddress()).block(DEADLINE);
    first.send(data(1)).block(DEADLINE);

    StepVerifier.create(a.release(b.listenAddress())).expectComplete().verify(DEADLINE);
    StepVerifier.create(first.onClose()).expectComplete().verify(DEADLINE);
    assertThat(first.isOpen()).isFalse();
    StepVerifier.create(first.send(data(2)))
        .expectError(PeerUnavailableException.class)
        .verify(DEADLINE);

    PeerConnection second = a.connection(b.listenAddress()).block(DEADLINE);
    assertThat(second).isNotSameAs(first);
    second.send(data(3)).block(DEADLINE);

    await().atMost(DEADLINE).until(() -> frames(atB, PeerFrame.BodyCase.DATA).size() == 2);
    assertThat(frames(atB, PeerFrame.BodyCase.DATA))
        .extracting(TestPeers::sequence)
        .containsExactly(1L, 3L);
    // B saw the first connection leave gracefully.
    assertThat(frames(atB, PeerFrame.BodyCase.GO_AWAY))
        .singleElement()
        .satisfies(f -> assertThat(f.getGoAway().getStatus().getCode()).isEqualTo(StatusCode.OK));
    assertThat(b.acceptedConnections()).isEqualTo(2);
  }

  @Test
  void closeGracefullyDeliversWhatWasQueuedAndSaysGoAway() {
    TestPeers.Recorder atB = new TestPeers.Recorder();
    PeerTransport a = peers.start(InboundDispatcher.discarding());
    PeerTransport b = peers.start(atB);
    PeerConnection toB = a.connection(b.listenAddress()).block(DEADLINE);
    int count = 10_000;

    // Queue everything without waiting, then close at once.
    Mono<Void> sent = Flux.range(0, count).flatMap(i -> toB.send(data(i)), count).then().cache();
    sent.subscribe(v -> {}, e -> {});
    // block() parks; StepVerifier would poll and take a core from the event loops meanwhile.
    a.closeGracefully(DEADLINE).block(DEADLINE);

    sent.block(DEADLINE);
    await().atMost(DEADLINE).until(() -> frames(atB, PeerFrame.BodyCase.DATA).size() == count);
    assertThat(frames(atB, PeerFrame.BodyCase.DATA))
        .extracting(TestPeers::sequence)
        .isSorted()
        .hasSize(count);
    await().atMost(DEADLINE).until(() -> !frames(atB, PeerFrame.BodyCase.GO_AWAY).isEmpty());
    assertThat(frames(atB, PeerFrame.BodyCase.GO_AWAY).get(0).getGoAway().getStatus().getCode())
        .isEqualTo(StatusCode.OK);
    StepVerifier.create(toB.onClose()).expectComplete().verify(DEADLINE);
    // Closed means closed: new work is refused with a typed error, not dropped.
    StepVerifier.create(toB.send(data(-1))).expectError(MeshClosedException.class).verify(DEADLINE);
    StepVerifier.create(a.connection(b.listenAddress()))
        .expectError(MeshClosedException.class)
        .verify(DEADLINE);
    await().atMost(DEADLINE).until(() -> b.openConnections() == 0);
  }

  @Test
  void aPeerThatSaysGoAwayGetsNoNewWorkAndTheNextUseDialsAgain() {
    TestPeers.Recorder atA = new TestPeers.Recorder();
    TestPeers.Recorder atB = new TestPeers.Recorder();
    PeerTransport a = peers.start(atA);
    PeerTransport b = peers.start(atB);
    PeerConnection toB = a.connection(b.listenAddress()).block(DEADLINE);
    toB.send(data(1)).block(DEADLINE);
    await().atMost(DEADLINE).until(() -> !atB.frames.isEmpty());
    PeerConnection fromA = atB.frames.peek().connection();

    // B's side of that one connection leaves gracefully (as a release would from B).
    ((PeerChannel) fromA)
        .closeGracefully(DEADLINE, new PeerUnavailableException("test"))
        .block(DEADLINE);

    await().atMost(DEADLINE).until(() -> !frames(atA, PeerFrame.BodyCase.GO_AWAY).isEmpty());
    StepVerifier.create(toB.send(data(2)))
        .expectError(PeerUnavailableException.class)
        .verify(DEADLINE);
    PeerConnection again = a.connection(b.listenAddress()).block(DEADLINE);
    assertThat(again).isNotSameAs(toB);
    StepVerifier.create(again.send(data(3))).expectComplete().verify(DEADLINE);
    await().atMost(DEADLINE).until(() -> frames(atB, PeerFrame.BodyCase.DATA).size() == 2);
  }

  @Test
  void goAwayRefusesNewWorkButLetsResponsesFinishBeforeTheClose() {
    TestPeers.Recorder atA = new TestPeers.Recorder();
    TestPeers.Recorder atB = new TestPeers.Recorder();
    PeerTransport a = peers.start(atA);
    PeerTransport b = peers.start(atB);
    PeerConnection toB = a.connection(b.listenAddress()).block(DEADLINE);
    toB.send(request(7)).then(toB.send(request(9))).block(DEADLINE);
    await().atMost(DEADLINE).until(() -> atB.frames.size() == 2);
    PeerConnection fromA = atB.frames.peek().connection();

    StepVerifier.create(b.goAway()).expectComplete().verify(DEADLINE);

    // A hears it, with the highest request B will still answer, and starts nothing new.
    await().atMost(DEADLINE).until(() -> !frames(atA, PeerFrame.BodyCase.GO_AWAY).isEmpty());
    GoAway goAway = frames(atA, PeerFrame.BodyCase.GO_AWAY).get(0).getGoAway();
    assertThat(goAway.getStatus().getCode()).isEqualTo(StatusCode.OK);
    assertThat(goAway.getLastStreamId()).isEqualTo(9);
    StepVerifier.create(toB.send(data(1)))
        .expectError(PeerUnavailableException.class)
        .verify(DEADLINE);
    // B starts nothing new either, but answers what it has.
    StepVerifier.create(fromA.send(data(2)))
        .expectError(MeshClosedException.class)
        .verify(DEADLINE);
    StepVerifier.create(fromA.send(response(7)).then(fromA.send(response(9))))
        .expectComplete()
        .verify(DEADLINE);
    StepVerifier.create(b.connection(a.listenAddress()))
        .expectError(MeshClosedException.class)
        .verify(DEADLINE);
    // A can still cancel on the connection it has, and B still answers pings.
    StepVerifier.create(toB.ping()).expectNextCount(1).expectComplete().verify(DEADLINE);

    StepVerifier.create(b.closeGracefully(DEADLINE)).expectComplete().verify(DEADLINE);
    assertThat(frames(atA, PeerFrame.BodyCase.RESPONSE))
        .extracting(f -> f.getResponse().getStreamId())
        .containsExactly(7L, 9L);
    StepVerifier.create(toB.onClose()).expectComplete().verify(DEADLINE);
  }

  @Test
  void pingMeasuresAPositiveRoundTrip() {
    PeerTransport a = peers.start(InboundDispatcher.discarding());
    PeerTransport b = peers.start(InboundDispatcher.discarding());
    PeerConnection toB = a.connection(b.listenAddress()).block(DEADLINE);

    StepVerifier.create(toB.ping())
        .assertNext(rtt -> assertThat(rtt).isPositive().isLessThan(DEADLINE))
        .expectComplete()
        .verify(DEADLINE);
  }

  @Test
  void aFrameOverTheLimitFailsItsSendOnlyAndTheConnectionGoesOn() {
    TestPeers.Recorder atB = new TestPeers.Recorder();
    PeerTransport a = peers.start(c -> c.maxFrameLength(1024), InboundDispatcher.discarding());
    PeerTransport b = peers.start(atB);
    PeerConnection toB = a.connection(b.listenAddress()).block(DEADLINE);
    PeerFrame big =
        PeerFrame.newBuilder()
            .setData(data(1).getData().toBuilder().setPayload(ByteString.copyFrom(new byte[2048])))
            .build();

    StepVerifier.create(toB.send(big)).expectError(OverloadedException.class).verify(DEADLINE);
    StepVerifier.create(toB.send(data(2))).expectComplete().verify(DEADLINE);
    await().atMost(DEADLINE).until(() -> atB.frames.size() == 1);
  }

  @Test
  void aClosedTransportRefusesEverythingWithMeshClosed() {
    PeerTransport a = peers.start(InboundDispatcher.discarding());
    PeerTransport b = peers.start(InboundDispatcher.discarding());
    PeerConnection toB = a.connection(b.listenAddress()).block(DEADLINE);

    StepVerifier.create(a.close()).expectComplete().verify(DEADLINE);

    StepVerifier.create(toB.send(data(1))).expectError(MeshClosedException.class).verify(DEADLINE);
    StepVerifier.create(toB.ping()).expectError(MeshClosedException.class).verify(DEADLINE);
    StepVerifier.create(a.connection(b.listenAddress()))
        .expectError(MeshClosedException.class)
        .verify(DEADLINE);
    StepVerifier.create(a.bind()).expectError(MeshClosedException.class).verify(DEADLINE);
    StepVerifier.create(a.onClose()).expectComplete().verify(DEADLINE);
    assertThat(a.openConnections()).isZero();
  }

  private static PeerFrame request(long streamId) {
    return PeerFrame.newBuilder()
        .setRequest(
            Request.newBuilder()
                .setStreamId(streamId)
                .setSource("app.env.caller/1")
                .setDestination("app.env.callee/1")
                .setMethod("Echo"))
        .build();
  }

  private static PeerFrame response(long streamId) {
    return PeerFrame.newBuilder()
        .setResponse(
            Response.newBuilder()
                .setStreamId(streamId)
                .setStatus(Status.newBuilder().setCode(StatusCode.OK)))
        .build();
  }

  private static List<PeerFrame> frames(TestPeers.Recorder recorder, PeerFrame.BodyCase kind) {
    return recorder.frames.stream()
        .map(InboundFrame::peerFrame)
        .filter(f -> f.getBodyCase() == kind)
        .toList();
  }
}

package io.skymesh.mesh.internal.transport;

import static io.skymesh.mesh.internal.transport.TestPeers.DEADLINE;
import static io.skymesh.mesh.internal.transport.TestPeers.data;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelPipeline;
import io.skymesh.core.exceptions.MeshClosedException;
import io.skymesh.core.exceptions.PeerUnavailableException;
import io.skymesh.proto.Hello;
import io.skymesh.proto.PeerFrame;
import io.skymesh.proto.Ping;
import io.skymesh.proto.StatusCode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.netty.Connection;
import reactor.netty.DisposableServer;
import reactor.netty.tcp.TcpServer;
import reactor.test.StepVerifier;

/** The peer protocol against hand-driven peers: misbehaving clients and servers over real TCP. */
class PeerProtocolTest {

  private final TestPeers peers = new TestPeers();
  private final List<Connection> rawClients = new ArrayList<>();
  private final List<DisposableServer> rawServers = new ArrayList<>();

  @AfterEach
  void closeEverything() {
    rawClients.forEach(Connection::disposeNow);
    rawServers.forEach(server -> server.disposeNow(DEADLINE));
    peers.close();
  }

  @Test
  void randomBytesCloseOnlyThatConnectionAndTheAttackerHearsGoAway() {
    TestPeers.Recorder atB = new TestPeers.Recorder();
    PeerTransport a = peers.start(InboundDispatcher.discarding());
    PeerTransport b = peers.start(atB);
    PeerConnection toB = a.connection(b.listenAddress()).block(DEADLINE);
    RawPeer attacker = rawPeer(b);

    byte[] garbage = new byte[512];
    new Random(7).nextBytes(garbage);
    garbage[0] = (byte) 0x7F; // a length prefix far over the maximum
    attacker.sendRaw(Unpooled.wrappedBuffer(garbage));

    attacker.awaitClosed();
    assertThat(attacker.frames)
        .singleElement()
        .satisfies(f -> assertThat(goAwayCode(f)).isEqualTo(StatusCode.RESOURCE_EXHAUSTED));
    // The established connection, and the listener, are untouched.
    StepVerifier.create(toB.send(data(1))).expectComplete().verify(DEADLINE);
    StepVerifier.create(toB.ping()).expectNextCount(1).expectComplete().verify(DEADLINE);
    await().atMost(DEADLINE).until(() -> atB.frames.size() == 1);
    PeerTransport c = peers.start(InboundDispatcher.discarding());
    StepVerifier.create(c.connection(b.listenAddress()).flatMap(conn -> conn.send(data(2))))
        .expectComplete()
        .verify(DEADLINE);
    await().atMost(DEADLINE).until(() -> atB.frames.size() == 2);
  }

  @Test
  void aBodyThatDoesNotParseIsDataLoss() {
    PeerTransport b = peers.start(InboundDispatcher.discarding());
    RawPeer attacker = rawPeer(b);

    attacker.sendRaw(Unpooled.buffer().writeInt(3).writeBytes(new byte[] {0x12, 0x7F, 0x01}));

    attacker.awaitClosed();
    assertThat(attacker.frames)
        .singleElement()
        .satisfies(f -> assertThat(goAwayCode(f)).isEqualTo(StatusCode.DATA_LOSS));
    await().atMost(DEADLINE).until(() -> b.openConnections() == 0);
  }

  @Test
  void anotherProtocolVersionIsRefusedWithFailedPrecondition() {
    PeerTransport b = peers.start(InboundDispatcher.discarding());
    RawPeer stranger = rawPeer(b);

    stranger.send(hello(2, "stranger"));

    stranger.awaitClosed();
    assertThat(stranger.frames)
        .singleElement()
        .satisfies(
            f -> {
              assertThat(goAwayCode(f)).isEqualTo(StatusCode.FAILED_PRECONDITION);
              assertThat(f.getGoAway().getStatus().getMessage()).contains("version 2");
            });
  }

  @Test
  void aFrameBeforeHelloIsRefused() {
    TestPeers.Recorder atB = new TestPeers.Recorder();
    PeerTransport b = peers.start(atB);
    RawPeer rude = rawPeer(b);

    rude.send(data(1));

    rude.awaitClosed();
    assertThat(rude.frames)
        .singleElement()
        .satisfies(f -> assertThat(goAwayCode(f)).isEqualTo(StatusCode.FAILED_PRECONDITION));
    assertThat(atB.frames).isEmpty();
  }

  @Test
  void aPeerThatNeverSaysHelloIsClosedAtTheHandshakeTimeout() {
    PeerTransport b =
        peers.start(
            c -> c.handshakeTimeout(Duration.ofMillis(200)), InboundDispatcher.discarding());
    RawPeer silent = rawPeer(b);

    silent.awaitClosed();
    assertThat(silent.frames)
        .singleElement()
        .satisfies(f -> assertThat(goAwayCode(f)).isEqualTo(StatusCode.DEADLINE_EXCEEDED));
  }

  @Test
  void aRawPeerThatSpeaksVersionOneIsAnsweredAndPingedBack() {
    TestPeers.Recorder atB = new TestPeers.Recorder();
    PeerTransport b = peers.start(c -> c.appId("game"), atB);
    RawPeer client = rawPeer(b);

    client.send(hello(1, "raw-process"));
    client.send(
        PeerFrame.newBuilder().setPing(Ping.newBuilder().setSequence(42).setSentNanos(7)).build());
    client.send(data(5));

    await().atMost(DEADLINE).until(() -> client.frames.size() == 2);
    List<PeerFrame> frames = new ArrayList<>(client.frames);
    assertThat(frames.get(0).getHello().getProtocolVersion()).isEqualTo(1);
    assertThat(frames.get(0).getHello().getProcessId()).isEqualTo(b.processId());
    assertThat(frames.get(0).getHello().getListenAddress()).isEqualTo(b.listenAddress());
    assertThat(frames.get(0).getHello().getAppId()).isEqualTo("game");
    assertThat(frames.get(1).getPong().getSequence()).isEqualTo(42);
    assertThat(frames.get(1).getPong().getSentNanos()).isEqualTo(7);
    await().atMost(DEADLINE).until(() -> atB.frames.size() == 1);
    assertThat(atB.frames.peek().connection().remoteProcessId()).isEqualTo("raw-process");
  }

  @Test
  void aServerThatRefusesTheHandshakeFailsTheConnectWithPeerUnavailable() {
    DisposableServer refusing =
        rawServer(
            (in, out) ->
                out.sendObject(
                        in.receiveObject()
                            .take(1)
                            .map(
                                hello ->
                                    PeerFrames.goAway(StatusCode.FAILED_PRECONDITION, "not today")))
                    .then(Mono.never()));
    PeerTransport a = peers.start(InboundDispatcher.discarding());
    String address = "127.0.0.1:" + refusing.port();

    StepVerifier.create(a.connection(address))
        .expectErrorSatisfies(
            e ->
                assertThat(e)
                    .isInstanceOf(PeerUnavailableException.class)
                    .hasMessageContaining(address)
                    .hasMessageContaining("not today"))
        .verify(DEADLINE);
    await().atMost(DEADLINE).until(() -> a.openConnections() == 0);
  }

  @Test
  void aServerThatNeverAnswersHelloFailsTheConnectAtTheHandshakeTimeout() {
    DisposableServer mute = rawServer((in, out) -> in.receiveObject().then(Mono.never()));
    PeerTransport a =
        peers.start(
            c -> c.handshakeTimeout(Duration.ofMillis(200)), InboundDispatcher.discarding());

    StepVerifier.create(a.connection("127.0.0.1:" + mute.port()))
        .expectErrorSatisfies(
            e ->
                assertThat(e)
                    .isInstanceOf(PeerUnavailableException.class)
                    .hasMessageContaining("no Hello"))
        .verify(DEADLINE);
  }

  @Test
  void closingTheTransportDuringAHandshakeFailsTheConnectAndClosesTheSocket() {
    Queue<Connection> accepted = new ConcurrentLinkedQueue<>();
    DisposableServer mute =
        rawServer(
            (in, out) -> in.withConnection(accepted::add).receiveObject().then(Mono.<Void>never()));
    PeerTransport a = peers.start(InboundDispatcher.discarding());
    Mono<PeerConnection> connecting = a.connection("127.0.0.1:" + mute.port()).cache();
    connecting.subscribe(c -> {}, e -> {});
    await().atMost(DEADLINE).until(() -> !accepted.isEmpty());

    StepVerifier.create(a.close()).expectComplete().verify(DEADLINE);

    StepVerifier.create(connecting).expectError(MeshClosedException.class).verify(DEADLINE);
    StepVerifier.create(accepted.peek().onDispose()).expectComplete().verify(DEADLINE);
    await().atMost(DEADLINE).until(() -> a.openConnections() == 0);
  }

  @Test
  void aPingAskedForAsADialedConnectionIsMadeLeavesOnlyAfterTheHandshake() {
    // The probe fires at connection time: the Ping is queued before the Hello is.
    Queue<PeerFrame> seen = new ConcurrentLinkedQueue<>();
    DisposableServer server =
        rawServer(
            (in, out) ->
                in.receiveObject()
                    .cast(PeerFrame.class)
                    .doOnNext(seen::add)
                    .concatMap(
                        frame ->
                            frame.hasHello()
                                ? out.sendObject(hello(PeerFrames.PROTOCOL_VERSION, "raw")).then()
                                : frame.hasPing()
                                    ? out.sendObject(
                                            PeerFrame.newBuilder()
                                                .setPong(
                                                    io.skymesh.proto.Pong.newBuilder()
                                                        .setSequence(frame.getPing().getSequence())
                                                        .setSentNanos(
                                                            frame.getPing().getSentNanos()))
                                                .build())
                                        .then()
                                    : Mono.<Void>empty())
                    .then(Mono.never()));
    PeerTransport a = peers.start(InboundDispatcher.discarding());
    Queue<Mono<Duration>> pings = new ConcurrentLinkedQueue<>();
    a.onInstalled(
        connection -> {
          Mono<Duration> ping = connection.ping().cache();
          ping.subscribe(d -> {}, e -> {});
          pings.add(ping);
        });

    PeerConnection toServer = a.connection("127.0.0.1:" + server.port()).block(DEADLINE);
    assertThat(toServer).isNotNull();

    assertThat(pings).hasSize(1);
    StepVerifier.create(pings.peek()).expectNextCount(1).expectComplete().verify(DEADLINE);
    assertThat(seen).extracting(PeerFrame::getBodyCase).startsWith(PeerFrame.BodyCase.HELLO);
    assertThat(seen).extracting(PeerFrame::getBodyCase).contains(PeerFrame.BodyCase.PING);
  }

  @Test
  void aPingAskedForAsAConnectionIsAcceptedLeavesOnlyAfterTheHandshake() {
    PeerTransport b = peers.start(InboundDispatcher.discarding());
    Queue<Mono<Duration>> pings = new ConcurrentLinkedQueue<>();
    b.onInstalled(
        connection -> {
          Mono<Duration> ping = connection.ping().cache();
          ping.subscribe(d -> {}, e -> {});
          pings.add(ping);
        });
    RawPeer client = rawPeer(b);
    await().atMost(DEADLINE).until(() -> pings.size() == 1);

    client.send(hello(PeerFrames.PROTOCOL_VERSION, "raw-process"));

    // b's Hello comes first, then the Ping it was asked for before the client said Hello.
    await().atMost(DEADLINE).until(() -> client.frames.size() >= 2);
    assertThat(client.frames)
        .extracting(PeerFrame::getBodyCase)
        .containsExactly(PeerFrame.BodyCase.HELLO, PeerFrame.BodyCase.PING);
    PeerFrame ping = List.copyOf(client.frames).get(1);
    client.send(
        PeerFrame.newBuilder()
            .setPong(
                io.skymesh.proto.Pong.newBuilder()
                    .setSequence(ping.getPing().getSequence())
                    .setSentNanos(ping.getPing().getSentNanos()))
            .build());
    StepVerifier.create(pings.peek()).expectNextCount(1).expectComplete().verify(DEADLINE);
  }

  // ---------------------------------------------------------------------------------------------

  private static StatusCode goAwayCode(PeerFrame frame) {
    assertThat(frame.hasGoAway()).as("a GoAway: %s", frame).isTrue();
    return frame.getGoAway().getStatus().getCode();
  }

  private static PeerFrame hello(int version, String processId) {
    return PeerFrame.newBuilder()
        .setHello(
            Hello.newBuilder()
                .setProtocolVersion(version)
                .setProcessId(processId)
                .setListenAddress("127.0.0.1:1"))
        .build();
  }

  private RawPeer rawPeer(PeerTransport target) {
    RawPeer peer = RawPeer.connect(target.listenAddress());
    rawClients.add(peer.connection());
    return peer;
  }

  private DisposableServer rawServer(
      java.util.function.BiFunction<
              reactor.netty.NettyInbound,
              reactor.netty.NettyOutbound,
              org.reactivestreams.Publisher<Void>>
          handler) {
    DisposableServer server =
        TcpServer.create()
            .host("127.0.0.1")
            .port(0)
            .doOnChannelInit((observer, channel, remote) -> addCodec(channel.pipeline()))
            .handle(handler)
            .bindNow(DEADLINE);
    rawServers.add(server);
    return server;
  }

  private static void addCodec(ChannelPipeline pipeline) {
    RawPeer.addCodec(pipeline);
  }
}

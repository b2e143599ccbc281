package io.skymesh.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.skymesh.proto.GoAway;
import io.skymesh.proto.PeerFrame;
import io.skymesh.proto.Status;
import io.skymesh.proto.StatusCode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.Connection;
import reactor.netty.DisposableServer;
import reactor.netty.NettyPipeline;
import reactor.netty.tcp.TcpClient;
import reactor.netty.tcp.TcpServer;
import reactor.test.StepVerifier;

/** The codec on real TCP connections over loopback, with an echo server. */
class FrameCodecLoopbackTest {

  private static final Duration DEADLINE = Duration.ofSeconds(10);
  private static final int MAX = 64 * 1024;

  /** What the server pipeline saw after the decoder. */
  private final Queue<Throwable> serverErrors = new ConcurrentLinkedQueue<>();

  private DisposableServer server;
  private final List<Connection> clients = new ArrayList<>();

  @BeforeEach
  void startEchoServer() {
    server =
        TcpServer.create()
            .host("127.0.0.1")
            .port(0)
            .childOption(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT)
            .doOnChannelInit(
                (observer, channel, address) -> {
                  addPeerCodec(channel.pipeline());
                  channel
                      .pipeline()
                      .addBefore(
                          NettyPipeline.ReactiveBridge, null, new ErrorRecorder(serverErrors));
                })
            .handle((in, out) -> out.sendObject(in.receiveObject()).then())
            .bindNow(DEADLINE);
  }

  @AfterEach
  void stop() {
    clients.forEach(Connection::disposeNow);
    server.disposeNow(DEADLINE);
  }

  @Test
  void everyFrameTypeEchoes() {
    Connection client = connect(true);
    List<PeerFrame> frames = SampleFrames.everyPeerFrameType();

    StepVerifier.create(exchange(client, frames))
        .expectNextSequence(frames)
        .expectComplete()
        .verify(DEADLINE);
  }

  @Test
  void thousandPipelinedFramesEchoInOrder() {
    Connection client = connect(true);
    List<PeerFrame> frames = new ArrayList<>();
    for (int i = 0; i < 1000; i++) {
      frames.add(SampleFrames.data("a.b.c/" + i, "a.b.d/1", i * 31 % 2000));
    }

    StepVerifier.create(exchange(client, frames))
        .expectNextSequence(frames)
        .expectComplete()
        .verify(DEADLINE);
  }

  @Test
  void randomBytesCloseOnlyThatConnectionWithAGoAway() {
    Connection healthy = connect(true);
    Connection attacker = connect(false);
    Mono<PeerFrame> lastWords = firstFrameOf(attacker);

    attacker.outbound().sendObject(Unpooled.wrappedBuffer(randomBytes())).then().subscribe();

    StepVerifier.create(lastWords)
        .assertNext(
            frame ->
                assertThat(frame.getGoAway().getStatus().getCode())
                    .isEqualTo(StatusCode.RESOURCE_EXHAUSTED))
        .expectComplete()
        .verify(DEADLINE);
    StepVerifier.create(attacker.onDispose()).expectComplete().verify(DEADLINE);
    await().atMost(DEADLINE).until(() -> !serverErrors.isEmpty());
    assertThat(serverErrors).singleElement().isInstanceOf(FrameTooLargeException.class);

    List<PeerFrame> frames = SampleFrames.everyPeerFrameType();
    StepVerifier.create(exchange(healthy, frames))
        .expectNextSequence(frames)
        .expectComplete()
        .verify(DEADLINE);
  }

  @Test
  void corruptBodyClosesTheConnectionWithDataLoss() {
    Connection attacker = connect(false);
    Mono<PeerFrame> lastWords = firstFrameOf(attacker);

    attacker
        .outbound()
        .sendObject(Unpooled.buffer().writeInt(3).writeBytes(new byte[] {0x12, 0x7F, 0x01}))
        .then()
        .subscribe();

    StepVerifier.create(lastWords)
        .assertNext(
            frame ->
                assertThat(frame.getGoAway().getStatus().getCode()).isEqualTo(StatusCode.DATA_LOSS))
        .expectComplete()
        .verify(DEADLINE);
    await().atMost(DEADLINE).until(() -> !serverErrors.isEmpty());
    assertThat(serverErrors).singleElement().isInstanceOf(CorruptFrameException.class);
  }

  @Test
  void connectionCutMidFrameIsTruncatedOnTheServer() {
    Connection cutter = connect(false);
    ByteBuf frame =
        Frames.encode(ByteBufAllocator.DEFAULT, SampleFrames.data("a.b.c/1", "a.b.d/1", 500), MAX);
    ByteBuf firstHalf = frame.retainedSlice(0, frame.readableBytes() / 2);
    frame.release();

    cutter.outbound().sendObject(firstHalf).then().block(DEADLINE);
    cutter.disposeNow(DEADLINE);

    await().atMost(DEADLINE).until(() -> !serverErrors.isEmpty());
    assertThat(serverErrors).singleElement().isInstanceOf(TruncatedFrameException.class);
  }

  private Connection connect(boolean withCodec) {
    Connection connection =
        TcpClient.create()
            .host("127.0.0.1")
            .port(server.port())
            .option(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT)
            .doOnChannelInit((observer, channel, address) -> addPeerCodec(channel.pipeline()))
            .connectNow(DEADLINE);
    if (!withCodec) {
      // The raw side reads frames (to see the server's last words) but writes raw bytes.
      connection.channel().pipeline().remove(ENCODER);
    }
    clients.add(connection);
    return connection;
  }

  /** Subscribes now, so that nothing that arrives before the test looks is missed. */
  private static Mono<PeerFrame> firstFrameOf(Connection connection) {
    Mono<PeerFrame> first =
        connection.inbound().receiveObject().cast(PeerFrame.class).next().cache();
    first.subscribe(frame -> {}, error -> {});
    return first;
  }

  private static Flux<PeerFrame> exchange(Connection client, List<PeerFrame> frames) {
    Flux<PeerFrame> replies =
        client.inbound().receiveObject().cast(PeerFrame.class).take(frames.size()).cache();
    replies.subscribe();
    return client.outbound().sendObject(Flux.fromIterable(frames)).then().thenMany(replies);
  }

  private static byte[] randomBytes() {
    byte[] bytes = new byte[256];
    new java.util.Random(7).nextBytes(bytes);
    bytes[0] = (byte) 0x7F; // a length far over the maximum
    return bytes;
  }

  private static final String DECODER = "skymesh.frameDecoder";
  private static final String ENCODER = "skymesh.frameEncoder";

  /**
   * Installs the codec for the channel's whole life: handlers added in doOnChannelInit stay when
   * Reactor Netty terminates the connection, so the decoder still sees the close and can report a
   * truncated frame.
   */
  private static void addPeerCodec(ChannelPipeline pipeline) {
    pipeline.addBefore(
        NettyPipeline.ReactiveBridge,
        DECODER,
        new FrameDecoder<>(PeerFrame.parser(), MAX, FrameCodecLoopbackTest::goAwayFor));
    pipeline.addBefore(NettyPipeline.ReactiveBridge, ENCODER, new FrameEncoder(MAX));
  }

  /** Records the exceptions that pass it, and passes them on. */
  private static final class ErrorRecorder extends ChannelInboundHandlerAdapter {
    private final Queue<Throwable> errors;

    ErrorRecorder(Queue<Throwable> errors) {
      this.errors = errors;
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      errors.add(cause);
      ctx.fireExceptionCaught(cause);
    }
  }

  private static PeerFrame goAwayFor(FrameException error) {
    StatusCode code =
        error instanceof FrameTooLargeException
            ? StatusCode.RESOURCE_EXHAUSTED
            : StatusCode.DATA_LOSS;
    return PeerFrame.newBuilder()
        .setGoAway(
            GoAway.newBuilder()
                .setStatus(Status.newBuilder().setCode(code).setMessage(error.getMessage())))
        .build();
  }
}

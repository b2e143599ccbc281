package io.skymesh.examples.codec;

import com.google.protobuf.ByteString;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.skymesh.codec.FrameDecoder;
import io.skymesh.codec.FrameEncoder;
import io.skymesh.codec.Frames;
import io.skymesh.proto.Data;
import io.skymesh.proto.Hello;
import io.skymesh.proto.PeerFrame;
import io.skymesh.proto.Ping;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import reactor.core.publisher.Flux;
import reactor.netty.Connection;
import reactor.netty.DisposableServer;
import reactor.netty.NettyPipeline;
import reactor.netty.tcp.TcpClient;
import reactor.netty.tcp.TcpServer;

/**
 * Sends Skymesh frames to an echo server over a real loopback TCP connection and checks that every
 * frame comes back equal, in order.
 *
 * <p>Run with {@code java -jar examples/target/examples.jar [frames]} (default 10,000 frames).
 */
public final class CodecRoundTrip {

  private static final Duration TIMEOUT = Duration.ofSeconds(30);

  private CodecRoundTrip() {}

  /**
   * Runs the round trip and prints what happened.
   *
   * @param args optionally the number of Data frames to send
   */
  public static void main(String[] args) {
    int frames = args.length > 0 ? Integer.parseInt(args[0]) : 10_000;
    Result result = run(frames);
    System.out.printf(
        "Echo server on %s: sent %d frames (%d bytes), received %d back, all equal and in order:"
            + " %s, in %d ms%n",
        result.serverAddress(),
        result.sent(),
        result.bytes(),
        result.received(),
        result.allEqual(),
        result.elapsed().toMillis());
  }

  /**
   * Starts an echo server on loopback, sends a Hello, {@code dataFrames} Data frames and a Ping,
   * and compares what comes back. Blocks until done: for {@code main} and tests only.
   *
   * @param dataFrames how many Data frames to send
   * @return what was sent and received
   */
  public static Result run(int dataFrames) {
    List<PeerFrame> frames = frames(dataFrames);
    long start = System.nanoTime();
    DisposableServer server =
        TcpServer.create()
            .host("127.0.0.1")
            .port(0)
            .childOption(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT)
            .doOnChannelInit((observer, channel, address) -> addCodec(channel.pipeline()))
            .handle((in, out) -> out.sendObject(in.receiveObject()))
            .bindNow(TIMEOUT);
    try {
      Connection client =
          TcpClient.create()
              .host("127.0.0.1")
              .port(server.port())
              .option(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT)
              .doOnChannelInit((observer, channel, address) -> addCodec(channel.pipeline()))
              .connectNow(TIMEOUT);
      try {
        Flux<PeerFrame> echoes =
            client.inbound().receiveObject().cast(PeerFrame.class).take(frames.size());
        List<PeerFrame> received =
            client
                .outbound()
                .sendObject(Flux.fromIterable(frames))
                .then()
                .thenMany(echoes)
                .collectList()
                .block(TIMEOUT);
        long bytes = frames.stream().mapToLong(f -> 4 + f.getSerializedSize()).sum();
        return new Result(
            server.address().toString(),
            frames.size(),
            bytes,
            received == null ? 0 : received.size(),
            frames.equals(received),
            Duration.ofNanos(System.nanoTime() - start));
      } finally {
        client.disposeNow(TIMEOUT);
      }
    } finally {
      server.disposeNow(TIMEOUT);
    }
  }

  private static void addCodec(ChannelPipeline pipeline) {
    pipeline.addBefore(
        NettyPipeline.ReactiveBridge,
        "skymesh.frameDecoder",
        new FrameDecoder<>(PeerFrame.parser(), Frames.DEFAULT_MAX_FRAME_LENGTH));
    pipeline.addBefore(
        NettyPipeline.ReactiveBridge,
        "skymesh.frameEncoder",
        new FrameEncoder(Frames.DEFAULT_MAX_FRAME_LENGTH));
  }

  private static List<PeerFrame> frames(int dataFrames) {
    List<PeerFrame> frames = new ArrayList<>(dataFrames + 2);
    frames.add(
        PeerFrame.newBuilder()
            .setHello(
                Hello.newBuilder().setProtocolVersion(1).setProcessId("demo").setAppId("demo"))
            .build());
    for (int i = 0; i < dataFrames; i++) {
      frames.add(
          PeerFrame.newBuilder()
              .setData(
                  Data.newBuilder()
                      .setSource("demo.local.client/1")
                      .setDestination("demo.local.echo/1")
                      .setPayload(ByteString.copyFromUtf8("message " + i)))
              .build());
    }
    frames.add(
        PeerFrame.newBuilder()
            .setPing(Ping.newBuilder().setSequence(1).setSentNanos(System.nanoTime()))
            .build());
    return frames;
  }

  /**
   * What a round trip did.
   *
   * @param serverAddress where the echo server listened
   * @param sent frames sent
   * @param bytes bytes sent, length prefixes included
   * @param received frames received back
   * @param allEqual whether every frame came back equal and in order
   * @param elapsed how long it took, server start to last echo
   */
  public record Result(
      String serverAddress,
      int sent,
      long bytes,
      int received,
      boolean allEqual,
      Duration elapsed) {}
}

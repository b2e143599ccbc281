package io.skymesh.mesh.internal.transport;

import com.google.protobuf.ByteString;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelPipeline;
import io.skymesh.codec.FrameDecoder;
import io.skymesh.codec.FrameEncoder;
import io.skymesh.codec.Frames;
import io.skymesh.proto.Data;
import io.skymesh.proto.Header;
import io.skymesh.proto.Hello;
import io.skymesh.proto.PeerFrame;
import io.skymesh.proto.Request;
import java.time.Duration;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import reactor.netty.Connection;
import reactor.netty.NettyPipeline;
import reactor.netty.tcp.TcpClient;
import reactor.test.StepVerifier;

/**
 * A TCP client that speaks peer frames (or raw bytes) by hand and keeps every frame it receives:
 * the misbehaving peer of the protocol tests. The test disposes {@link #connection()}.
 */
public final class RawPeer {

  private static final Duration DEADLINE = Duration.ofSeconds(30);

  /** Every frame received, in order. */
  public final Queue<PeerFrame> frames = new ConcurrentLinkedQueue<>();

  private final Connection connection;

  private RawPeer(Connection connection) {
    this.connection = connection;
    connection.inbound().receiveObject().cast(PeerFrame.class).subscribe(frames::add, e -> {});
  }

  /** Connects to a mesh listener at {@code host:port}, plaintext. */
  public static RawPeer connect(String listenAddress) {
    PeerAddress address = PeerAddress.parse(listenAddress);
    return new RawPeer(
        TcpClient.newConnection()
            .host(address.host())
            .port(address.port())
            .doOnChannelInit((observer, channel, remote) -> addCodec(channel.pipeline()))
            .connectNow(DEADLINE));
  }

  /** Installs the frame codec before Reactor Netty's bridge. */
  static void addCodec(ChannelPipeline pipeline) {
    pipeline.addBefore(
        NettyPipeline.ReactiveBridge,
        "decoder",
        new FrameDecoder<>(PeerFrame.parser(), Frames.DEFAULT_MAX_FRAME_LENGTH));
    pipeline.addBefore(
        NettyPipeline.ReactiveBridge, "encoder", new FrameEncoder(Frames.DEFAULT_MAX_FRAME_LENGTH));
  }

  /** The connection, to dispose. */
  public Connection connection() {
    return connection;
  }

  /** A {@code Hello} of this protocol version, to add a ticket to or to build. */
  public static Hello.Builder hello(String processId, String appId) {
    return Hello.newBuilder()
        .setProtocolVersion(PeerFrames.PROTOCOL_VERSION)
        .setProcessId(processId)
        .setAppId(appId);
  }

  /** A {@code Data} frame. */
  public static PeerFrame data(
      String source, String destination, List<Header> headers, ByteString payload) {
    return PeerFrame.newBuilder()
        .setData(
            Data.newBuilder()
                .setSource(source)
                .setDestination(destination)
                .addAllHeaders(headers)
                .setPayload(payload))
        .build();
  }

  /** A {@code Request} with a 30 s timeout. */
  public static PeerFrame request(
      long streamId,
      String source,
      String destination,
      String method,
      List<Header> headers,
      ByteString payload) {
    return PeerFrame.newBuilder()
        .setRequest(
            Request.newBuilder()
                .setStreamId(streamId)
                .setSource(source)
                .setDestination(destination)
                .setMethod(method)
                .setTimeoutMicros(30_000_000)
                .addAllHeaders(headers)
                .setPayload(payload))
        .build();
  }

  /** Sends one frame and waits until it is written. */
  public void send(PeerFrame frame) {
    connection.outbound().sendObject(frame).then().block(DEADLINE);
  }

  /** Sends raw bytes and waits until they are written. */
  public void sendRaw(ByteBuf bytes) {
    connection.outbound().sendObject(bytes).then().block(DEADLINE);
  }

  /** Waits until the other side has closed the connection. */
  public void awaitClosed() {
    StepVerifier.create(connection.onDispose()).expectComplete().verify(DEADLINE);
  }
}

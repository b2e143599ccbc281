package io.skymesh.mesh.internal.naming;

import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import io.netty.channel.ChannelPipeline;
import io.skymesh.codec.FrameDecoder;
import io.skymesh.codec.FrameEncoder;
import io.skymesh.codec.Frames;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.NameServerFrame;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import reactor.core.publisher.Mono;
import reactor.netty.Connection;
import reactor.netty.DisposableServer;
import reactor.netty.NettyPipeline;
import reactor.netty.tcp.TcpClient;
import reactor.netty.tcp.TcpServer;

/**
 * A loopback proxy in front of a name server that decodes and records the frames either way. Two of
 * them in front of one server look to a client like two nodes of a cluster that share their state.
 * It can also claim that every session it sees opened was resumed, to drive a client down the path
 * a cluster takes when it resumes a session (the embedded server never does).
 */
public final class RecordingProxy implements AutoCloseable {

  /** What clients sent, in order. */
  public final List<NameClientFrame> fromClients = new CopyOnWriteArrayList<>();

  /** What clients were sent, in order, after any rewriting. */
  public final List<NameServerFrame> toClients = new CopyOnWriteArrayList<>();

  private final DisposableServer server;
  private final Set<Connection> connections = ConcurrentHashMap.newKeySet();
  private volatile boolean claimResumed;

  /**
   * Starts a proxy to {@code target} on a free loopback port.
   *
   * @param target the name server's address
   * @param deadline how long binding may take
   */
  public RecordingProxy(InetSocketAddress target, Duration deadline) {
    this.server =
        TcpServer.create()
            .host("127.0.0.1")
            .port(0)
            .doOnChannelInit(
                (observer, channel, remote) ->
                    installCodec(channel.pipeline(), NameClientFrame.parser()))
            .handle(
                (in, out) ->
                    TcpClient.newConnection()
                        .host(target.getHostString())
                        .port(target.getPort())
                        .doOnChannelInit(
                            (observer, channel, remote) ->
                                installCodec(channel.pipeline(), NameServerFrame.parser()))
                        .connect()
                        .flatMap(
                            upstream -> {
                              connections.add(upstream);
                              in.withConnection(
                                  downstream -> {
                                    connections.add(downstream);
                                    downstream.onDispose(upstream::dispose);
                                    upstream.onDispose(downstream::dispose);
                                  });
                              upstream
                                  .outbound()
                                  .sendObject(
                                      in.receiveObject()
                                          .cast(NameClientFrame.class)
                                          .doOnNext(fromClients::add))
                                  .then()
                                  .subscribe(null, e -> upstream.dispose());
                              return out.sendObject(
                                      upstream
                                          .inbound()
                                          .receiveObject()
                                          .cast(NameServerFrame.class)
                                          .map(this::rewrite)
                                          .doOnNext(toClients::add))
                                  .then()
                                  .then(Mono.never());
                            }))
            .bindNow(deadline);
  }

  /** The proxy's address, {@code 127.0.0.1:port}. */
  public InetSocketAddress address() {
    return InetSocketAddress.createUnresolved("127.0.0.1", server.port());
  }

  /** From now on, answers every OpenSession with {@code resumed = true}. */
  public void claimResumed() {
    claimResumed = true;
  }

  /** The frames of one kind that clients sent, in order. */
  public List<NameClientFrame> sent(NameClientFrame.BodyCase kind) {
    return fromClients.stream().filter(frame -> frame.getBodyCase() == kind).toList();
  }

  private NameServerFrame rewrite(NameServerFrame frame) {
    if (claimResumed && frame.hasAck() && frame.getAck().hasSessionOpened()) {
      NameServerFrame.Builder builder = frame.toBuilder();
      builder.getAckBuilder().getSessionOpenedBuilder().setResumed(true);
      return builder.build();
    }
    return frame;
  }

  private static <T extends MessageLite> void installCodec(
      ChannelPipeline pipeline, Parser<T> parser) {
    pipeline.addBefore(
        NettyPipeline.ReactiveBridge,
        "test.frameDecoder",
        new FrameDecoder<>(parser, Frames.DEFAULT_MAX_FRAME_LENGTH));
    pipeline.addBefore(
        NettyPipeline.ReactiveBridge,
        "test.frameEncoder",
        new FrameEncoder(Frames.DEFAULT_MAX_FRAME_LENGTH));
  }

  @Override
  public void close() {
    server.disposeNow();
    connections.forEach(Connection::dispose);
  }
}

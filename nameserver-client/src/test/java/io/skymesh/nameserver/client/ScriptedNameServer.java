package io.skymesh.nameserver.client;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.ChannelOption;
import io.skymesh.codec.FrameDecoder;
import io.skymesh.codec.FrameEncoder;
import io.skymesh.codec.Frames;
import io.skymesh.proto.Ack;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.NameServerFrame;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.netty.Connection;
import reactor.netty.DisposableServer;
import reactor.netty.NettyPipeline;
import reactor.netty.tcp.TcpServer;

/**
 * A real TCP server on loopback that speaks the frame format and answers each request with what its
 * script says; the test can also push frames of its own, write raw bytes, and close the connection.
 * Not a name server: it keeps no state but the requests it has received.
 */
final class ScriptedNameServer implements AutoCloseable {

  static final Duration TIMEOUT = Duration.ofSeconds(10);

  /** Answers every request with an Ack of revision 1. */
  static final Function<NameClientFrame, List<NameServerFrame>> ACK_ALL =
      request -> List.of(ack(request.getRequestId(), 1));

  private final DisposableServer server;
  private final Sinks.One<Connection> accepted = Sinks.one();
  private final Sinks.Many<Object> pushed = Sinks.many().unicast().onBackpressureBuffer();
  private final List<NameClientFrame> received = new CopyOnWriteArrayList<>();

  private ScriptedNameServer(Function<NameClientFrame, List<NameServerFrame>> script) {
    server =
        TcpServer.create()
            .host("127.0.0.1")
            .port(0)
            .childOption(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT)
            .doOnChannelInit(
                (observer, channel, remote) ->
                    channel
                        .pipeline()
                        .addBefore(
                            NettyPipeline.ReactiveBridge,
                            "decoder",
                            new FrameDecoder<>(
                                NameClientFrame.parser(), Frames.DEFAULT_MAX_FRAME_LENGTH))
                        .addBefore(
                            NettyPipeline.ReactiveBridge,
                            "encoder",
                            new FrameEncoder(Frames.MAX_FRAME_LENGTH_LIMIT)))
            .doOnConnection(accepted::tryEmitValue)
            .handle(
                (in, out) -> {
                  Flux<Object> answers =
                      in.receiveObject()
                          .cast(NameClientFrame.class)
                          .doOnNext(received::add)
                          .concatMapIterable(script);
                  return out.sendObject(Flux.merge(answers, pushed.asFlux())).neverComplete();
                })
            .bindNow(TIMEOUT);
  }

  static ScriptedNameServer start(Function<NameClientFrame, List<NameServerFrame>> script) {
    return new ScriptedNameServer(script);
  }

  int port() {
    return server.port();
  }

  /** The connection it accepted (one per server). */
  Connection connection() {
    return accepted.asMono().block(TIMEOUT);
  }

  /** Sends a frame of its own, after whatever it has sent before. */
  void push(NameServerFrame frame) {
    pushed.emitNext(frame, Sinks.EmitFailureHandler.busyLooping(TIMEOUT));
  }

  /** Writes raw bytes on the connection, after whatever it has sent before. */
  void pushRaw(ByteBuf bytes) {
    pushed.emitNext(bytes, Sinks.EmitFailureHandler.busyLooping(TIMEOUT));
  }

  /** The requests received so far, in order. */
  List<NameClientFrame> received() {
    return received;
  }

  /** Closes the accepted connection, as a server that goes away. */
  Mono<Void> closeConnection() {
    return Mono.defer(
        () -> {
          Connection connection = connection();
          connection.dispose();
          return connection.onDispose();
        });
  }

  static NameServerFrame ack(long requestId, long revision) {
    return NameServerFrame.newBuilder()
        .setAck(Ack.newBuilder().setRequestId(requestId).setRevision(revision))
        .build();
  }

  @Override
  public void close() {
    server.disposeNow(TIMEOUT);
  }
}

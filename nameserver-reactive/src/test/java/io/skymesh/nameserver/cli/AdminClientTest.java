package io.skymesh.nameserver.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.ChannelOption;
import io.skymesh.codec.FrameDecoder;
import io.skymesh.codec.FrameEncoder;
import io.skymesh.codec.Frames;
import io.skymesh.proto.Ack;
import io.skymesh.proto.KvGet;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.SessionOpened;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import reactor.netty.DisposableServer;
import reactor.netty.NettyPipeline;
import reactor.netty.tcp.TcpServer;

/**
 * The admin client against a server that misbehaves on purpose: a real TCP server on loopback with
 * the codec, answering as each test says.
 */
class AdminClientTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  /** A server that opens sessions with a 300 ms TTL and answers the rest as {@code script} says. */
  private static DisposableServer server(Function<NameClientFrame, List<NameServerFrame>> script) {
    return TcpServer.create()
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
                        new FrameEncoder(Frames.DEFAULT_MAX_FRAME_LENGTH)))
        .handle(
            (in, out) ->
                out.sendObject(
                        in.receiveObject()
                            .cast(NameClientFrame.class)
                            .concatMapIterable(
                                request ->
                                    request.hasOpenSession()
                                        ? List.of(
                                            answer(
                                                Ack.newBuilder()
                                                    .setRequestId(request.getRequestId())
                                                    .setSessionOpened(
                                                        SessionOpened.newBuilder()
                                                            .setSessionId("s1")
                                                            .setTtlMillis(300))))
                                        : script.apply(request)))
                    .neverComplete())
        .bindNow(TIMEOUT);
  }

  private static NameServerFrame answer(Ack.Builder ack) {
    return NameServerFrame.newBuilder().setAck(ack).build();
  }

  @Test
  void aKeepAliveLeftUnansweredDoesNotStopTheOnesAfterIt() {
    List<Long> keepAlives = new CopyOnWriteArrayList<>();
    DisposableServer server =
        server(
            request -> {
              keepAlives.add(request.getRequestId());
              // The first KeepAlive's answer is lost; every later one is answered.
              return keepAlives.size() == 1
                  ? List.of()
                  : List.of(answer(Ack.newBuilder().setRequestId(request.getRequestId())));
            });
    try (AdminClient client = AdminClient.connect("127.0.0.1", server.port(), TIMEOUT)) {
      // A KeepAlive every 100 ms: the ones after the lost answer keep coming.
      await().atMost(TIMEOUT).until(() -> keepAlives.size() >= 5);
      assertThat(client.address()).isEqualTo("127.0.0.1:" + server.port());
    } finally {
      server.disposeNow(TIMEOUT);
    }
  }

  @Test
  void anUnansweredRequestIsUnreachableAfterTheTimeout() {
    DisposableServer server = server(request -> List.of());
    // Long enough to connect and open the session on a busy machine; the request then waits it out.
    Duration timeout = Duration.ofSeconds(2);
    try (AdminClient client = AdminClient.connect("127.0.0.1", server.port(), timeout)) {
      assertThatThrownBy(
              () -> client.ack(NameClientFrame.newBuilder().setKvGet(KvGet.newBuilder())))
          .isInstanceOfSatisfying(
              CliFailure.class,
              failure -> assertThat(failure.exitCode).isEqualTo(CliFailure.UNREACHABLE))
          .hasMessageContaining("no answer from the name server")
          .hasMessageContaining("within 2000 ms");
    } finally {
      server.disposeNow(TIMEOUT);
    }
  }
}

package io.skymesh.mesh;

import static io.skymesh.mesh.TestMeshes.DEADLINE;
import static org.awaitility.Awaitility.await;

import io.netty.channel.ChannelOption;
import io.skymesh.codec.FrameDecoder;
import io.skymesh.codec.FrameEncoder;
import io.skymesh.codec.Frames;
import io.skymesh.core.ServiceName;
import io.skymesh.proto.Deregister;
import io.skymesh.proto.Instance;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.OpenSession;
import io.skymesh.proto.Register;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import reactor.core.publisher.Flux;
import reactor.netty.Connection;
import reactor.netty.NettyPipeline;
import reactor.netty.tcp.TcpClient;

/**
 * Registers many instances with a real name server quickly: one raw protocol session that pipelines
 * its Register frames (no reply awaited between them), as a process hosting many instances would.
 * Blocking, for tests.
 */
final class BulkRegistrar implements AutoCloseable {

  private final Connection connection;
  private final AtomicLong requestIds = new AtomicLong();
  private final AtomicLong acks = new AtomicLong();
  private final List<NameServerFrame> errors = new CopyOnWriteArrayList<>();

  private BulkRegistrar(Connection connection) {
    this.connection = connection;
    connection
        .inbound()
        .receiveObject()
        .cast(NameServerFrame.class)
        .subscribe(
            frame -> {
              if (frame.hasAck()) {
                acks.incrementAndGet();
              } else if (frame.hasError()) {
                errors.add(frame);
              }
            });
  }

  /** Opens a session of appId {@code game} with a 60 s TTL, which outlasts any test. */
  static BulkRegistrar open(int port) {
    Connection connection =
        TcpClient.create()
            .host("127.0.0.1")
            .port(port)
            .option(ChannelOption.TCP_NODELAY, true)
            .doOnChannelInit(
                (observer, channel, address) ->
                    channel
                        .pipeline()
                        .addBefore(
                            NettyPipeline.ReactiveBridge,
                            "decoder",
                            new FrameDecoder<>(
                                NameServerFrame.parser(), Frames.DEFAULT_MAX_FRAME_LENGTH))
                        .addBefore(
                            NettyPipeline.ReactiveBridge,
                            "encoder",
                            new FrameEncoder(Frames.DEFAULT_MAX_FRAME_LENGTH)))
            .connectNow(DEADLINE);
    BulkRegistrar registrar = new BulkRegistrar(connection);
    registrar.sendAll(
        Flux.just(
            NameClientFrame.newBuilder()
                .setOpenSession(
                    OpenSession.newBuilder()
                        .setProtocolVersion(1)
                        .setAppId("game")
                        .setTtlMillis(60_000))));
    return registrar;
  }

  /** The url of instance {@code i} of {@code service}: ids sort as the numbers do. */
  static String url(ServiceName service, int i) {
    return service + "/i" + String.format("%06d", i);
  }

  /** Registers instances {@code from} to {@code to - 1} of {@code service}, all acknowledged. */
  void register(ServiceName service, int from, int to) {
    sendAll(
        Flux.range(from, to - from)
            .map(
                i ->
                    NameClientFrame.newBuilder()
                        .setRegister(
                            Register.newBuilder()
                                .setInstance(
                                    Instance.newBuilder()
                                        .setUrl(url(service, i))
                                        .setAddress("127.0.0.1:" + (20_000 + i % 1_000))
                                        .setWeight(1)
                                        .setProcessId("bulk-" + i % 1_000)
                                        .putAttributes("n", Integer.toString(i))))));
  }

  /** Deregisters instances {@code from} to {@code to - 1} of {@code service}, all acknowledged. */
  void deregister(ServiceName service, int from, int to) {
    sendAll(
        Flux.range(from, to - from)
            .map(
                i ->
                    NameClientFrame.newBuilder()
                        .setDeregister(Deregister.newBuilder().setUrl(url(service, i)))));
  }

  private void sendAll(Flux<NameClientFrame.Builder> requests) {
    Duration deadline = DEADLINE.multipliedBy(4); // a deadline for many requests, not for one
    connection
        .outbound()
        .sendObject(
            requests.map(request -> request.setRequestId(requestIds.incrementAndGet()).build()))
        .then()
        .block(deadline);
    long expected = requestIds.get();
    await()
        .atMost(deadline)
        .until(
            () -> {
              if (!errors.isEmpty()) {
                throw new AssertionError("the name server refused: " + errors.get(0));
              }
              return acks.get() >= expected;
            });
  }

  @Override
  public void close() {
    connection.disposeNow(DEADLINE);
  }
}

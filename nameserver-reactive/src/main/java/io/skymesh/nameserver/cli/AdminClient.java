package io.skymesh.nameserver.cli;

import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.ChannelOption;
import io.skymesh.codec.FrameDecoder;
import io.skymesh.codec.FrameEncoder;
import io.skymesh.codec.Frames;
import io.skymesh.proto.Ack;
import io.skymesh.proto.KeepAlive;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.OpenSession;
import io.skymesh.proto.Status;
import io.skymesh.proto.StatusCode;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.netty.Connection;
import reactor.netty.NettyPipeline;
import reactor.netty.tcp.TcpClient;

/**
 * A small client of the name-server protocol for the admin commands. It is the CLI's blocking edge:
 * {@link #call} and {@link #connect} block the calling thread (the command's {@code main} thread,
 * never an event loop) for at most the timeout. Failures are {@link CliFailure}s that carry the
 * command's exit code.
 */
final class AdminClient implements AutoCloseable {

  /** The app id of admin sessions; it registers nothing, so any valid id does. */
  static final String APP_ID = "skymesh-admin";

  private final Connection connection;
  private final String address;
  private final Duration timeout;
  private final AtomicLong requestIds = new AtomicLong();
  private final Map<Long, Sinks.One<NameServerFrame>> pending = new ConcurrentHashMap<>();
  private final Sinks.Many<NameServerFrame> events = Sinks.many().unicast().onBackpressureBuffer();
  private volatile String closedBecause;
  private Disposable keepAlives;

  private AdminClient(Connection connection, String address, Duration timeout) {
    this.connection = connection;
    this.address = address;
    this.timeout = timeout;
    connection
        .inbound()
        .receiveObject()
        .cast(NameServerFrame.class)
        .subscribe(this::received, error -> closed(error.toString()), () -> closed(null));
  }

  /**
   * Connects to the name server at {@code host:port} and opens a session. Blocks.
   *
   * @throws CliFailure with {@link CliFailure#UNREACHABLE} if it cannot
   */
  static AdminClient connect(String host, int port, Duration timeout) {
    String address = host + ":" + port;
    Connection connection;
    try {
      connection =
          TcpClient.create()
              .host(host)
              .port(port)
              .option(ChannelOption.TCP_NODELAY, true)
              .option(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT)
              .option(
                  ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(timeout.toMillis(), 60_000))
              .doOnChannelInit(
                  (observer, channel, remote) ->
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
              .connect()
              .block(timeout);
    } catch (RuntimeException e) {
      throw new CliFailure(
          CliFailure.UNREACHABLE,
          "cannot reach the name server at " + address + ": " + rootMessage(e));
    }
    if (connection == null) {
      throw new CliFailure(
          CliFailure.UNREACHABLE, "cannot reach the name server at " + address + ": timed out");
    }
    AdminClient client = new AdminClient(connection, address, timeout);
    try {
      Ack opened =
          client.ack(
              NameClientFrame.newBuilder()
                  .setOpenSession(OpenSession.newBuilder().setProtocolVersion(1).setAppId(APP_ID)));
      long ttl = opened.getSessionOpened().getTtlMillis();
      client.keepAlives =
          Flux.interval(Duration.ofMillis(Math.max(50, ttl / 3)))
              .concatMap(tick -> client.send(keepAlive()).onErrorResume(e -> Mono.empty()))
              .subscribe();
    } catch (RuntimeException e) {
      client.close();
      throw e;
    }
    return client;
  }

  private static NameClientFrame.Builder keepAlive() {
    return NameClientFrame.newBuilder().setKeepAlive(KeepAlive.getDefaultInstance());
  }

  /** How long a request may wait for its answer. */
  Duration timeout() {
    return timeout;
  }

  /** The server's address, as given. */
  String address() {
    return address;
  }

  /**
   * Sends a request and waits for its answer. Blocks.
   *
   * @return the Ack
   * @throws CliFailure with {@link CliFailure#NOT_FOUND} for a NOT_FOUND error, {@link
   *     CliFailure#REFUSED} for any other error, {@link CliFailure#UNREACHABLE} if the connection
   *     is lost or no answer comes within the timeout
   */
  Ack ack(NameClientFrame.Builder request) {
    NameServerFrame answer;
    try {
      answer = send(request).block(timeout);
    } catch (CliFailure e) {
      throw e;
    } catch (RuntimeException e) {
      throw new CliFailure(
          CliFailure.UNREACHABLE, "lost the name server at " + address + ": " + rootMessage(e));
    }
    if (answer == null) {
      throw new CliFailure(
          CliFailure.UNREACHABLE,
          "no answer from the name server at " + address + " within " + timeout.toMillis() + " ms");
    }
    if (answer.hasError()) {
      Status status = answer.getError().getStatus();
      throw new CliFailure(
          status.getCode() == StatusCode.NOT_FOUND ? CliFailure.NOT_FOUND : CliFailure.REFUSED,
          status.getCode() + ": " + status.getMessage());
    }
    return answer.getAck();
  }

  /** The watch and KV watch events, in order; subscribe once. */
  Flux<NameServerFrame> events() {
    return events.asFlux();
  }

  private Mono<NameServerFrame> send(NameClientFrame.Builder request) {
    return Mono.defer(
        () -> {
          String reason = closedBecause;
          if (reason != null) {
            return Mono.error(new CliFailure(CliFailure.UNREACHABLE, reason));
          }
          long id = requestIds.incrementAndGet();
          Sinks.One<NameServerFrame> answer = Sinks.one();
          pending.put(id, answer);
          return connection
              .outbound()
              .sendObject(request.setRequestId(id).build())
              .then()
              .then(answer.asMono());
        });
  }

  private void received(NameServerFrame frame) {
    long id = 0;
    if (frame.hasAck()) {
      id = frame.getAck().getRequestId();
    } else if (frame.hasError()) {
      id = frame.getError().getRequestId();
      if (id == 0) {
        Status status = frame.getError().getStatus();
        closed(
            "the name server closed the session: " + status.getCode() + ": " + status.getMessage());
        return;
      }
    } else {
      events.tryEmitNext(frame);
      return;
    }
    Sinks.One<NameServerFrame> answer = pending.remove(id);
    if (answer != null) {
      answer.tryEmitValue(frame);
    }
  }

  private void closed(String reason) {
    String why =
        reason != null ? reason : "the name server at " + address + " closed the connection";
    if (closedBecause == null) {
      closedBecause = why;
    }
    CliFailure failure = new CliFailure(CliFailure.UNREACHABLE, closedBecause);
    pending.values().forEach(answer -> answer.tryEmitError(failure));
    pending.clear();
    events.tryEmitError(failure);
  }

  @Override
  public void close() {
    if (keepAlives != null) {
      keepAlives.dispose();
    }
    connection.disposeNow(timeout);
  }

  private static String rootMessage(Throwable error) {
    Throwable cause = error;
    while (cause.getCause() != null && cause.getCause() != cause) {
      cause = cause.getCause();
    }
    return cause.getMessage() != null ? cause.getMessage() : cause.toString();
  }
}

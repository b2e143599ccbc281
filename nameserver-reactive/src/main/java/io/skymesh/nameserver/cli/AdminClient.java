package io.skymesh.nameserver.cli;

import io.netty.handler.ssl.SslContext;
import io.skymesh.core.exceptions.MeshTimeoutException;
import io.skymesh.nameserver.client.NameServerConnection;
import io.skymesh.proto.Ack;
import io.skymesh.proto.KeepAlive;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.OpenSession;
import io.skymesh.proto.Status;
import io.skymesh.proto.StatusCode;
import java.time.Duration;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The admin commands' session with a name server, over a {@link NameServerConnection}. It is the
 * CLI's blocking edge: {@link #ack} and {@link #connect} block the calling thread (the command's
 * {@code main} thread, never an event loop) for at most the timeout. Failures are {@link
 * CliFailure}s that carry the command's exit code.
 */
final class AdminClient implements AutoCloseable {

  /** The app id of admin sessions; it registers nothing, so any valid id does. */
  static final String APP_ID = "skymesh-admin";

  private final NameServerConnection connection;
  private final String address;
  private final Duration timeout;
  private Disposable keepAlives;

  private AdminClient(NameServerConnection connection, String address, Duration timeout) {
    this.connection = connection;
    this.address = address;
    this.timeout = timeout;
  }

  /**
   * Connects to the name server at {@code host:port} and opens a session, kept alive until {@link
   * #close()}. Blocks.
   *
   * @throws CliFailure with {@link CliFailure#UNREACHABLE} if it cannot
   */
  static AdminClient connect(String host, int port, Duration timeout) {
    return connect(host, port, timeout, true, "", null);
  }

  /**
   * Connects to the name server at {@code host:port}, over TLS with {@code tls} if not null, and
   * opens a session with {@code token} (empty for none) if {@code openSession} (a command that only
   * asks a {@code HealthCheck} needs none). Blocks.
   *
   * @throws CliFailure with {@link CliFailure#UNREACHABLE} if it cannot
   */
  static AdminClient connect(
      String host, int port, Duration timeout, boolean openSession, String token, SslContext tls) {
    String address = host + ":" + port;
    NameServerConnection connection;
    try {
      NameServerConnection.Builder builder =
          NameServerConnection.builder(host, port)
              .connectTimeout(Duration.ofMillis(Math.max(1, Math.min(timeout.toMillis(), 60_000))));
      if (tls != null) {
        builder.tls(tls);
      }
      connection = builder.connect().block(timeout);
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
    if (!openSession) {
      return client;
    }
    try {
      Ack opened =
          client.ack(
              NameClientFrame.newBuilder()
                  .setOpenSession(
                      OpenSession.newBuilder()
                          .setProtocolVersion(1)
                          .setAppId(APP_ID)
                          .setToken(token)));
      client.keepAlives = client.keepAlive(opened.getSessionOpened().getTtlMillis());
    } catch (RuntimeException e) {
      client.close();
      throw e;
    }
    return client;
  }

  /**
   * A KeepAlive every third of the TTL, each given up when the next is due: an answer that never
   * comes costs one KeepAlive, never the ones after it. Ticks that come while one is still out are
   * dropped rather than overflowing the interval, which would end the keepalives for good.
   */
  private Disposable keepAlive(long ttlMillis) {
    Duration period = Duration.ofMillis(Math.max(50, ttlMillis / 3));
    return Flux.interval(period)
        .onBackpressureDrop()
        .concatMap(
            tick ->
                connection
                    .request(
                        NameClientFrame.newBuilder().setKeepAlive(KeepAlive.getDefaultInstance()),
                        "a keepalive",
                        period)
                    .onErrorResume(e -> Mono.empty()),
            1)
        .subscribe();
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
      // The request's deadline ends the wait.
      answer = connection.exchange(request, timeout).block();
    } catch (MeshTimeoutException e) {
      throw new CliFailure(
          CliFailure.UNREACHABLE,
          "no answer from the name server at " + address + " within " + timeout.toMillis() + " ms");
    } catch (RuntimeException e) {
      throw new CliFailure(CliFailure.UNREACHABLE, e.getMessage());
    }
    if (answer.hasError()) {
      Status status = answer.getError().getStatus();
      throw new CliFailure(
          status.getCode() == StatusCode.NOT_FOUND ? CliFailure.NOT_FOUND : CliFailure.REFUSED,
          status.getCode() + ": " + status.getMessage());
    }
    return answer.getAck();
  }

  /**
   * The watch and KV watch events, in order; subscribe once. Fails with a {@link CliFailure} when
   * the connection is lost, or when the command falls so far behind that the connection's bounded
   * buffer is full.
   */
  Flux<NameServerFrame> events() {
    return connection
        .events()
        .onErrorMap(
            e -> !(e instanceof CliFailure),
            e -> new CliFailure(CliFailure.UNREACHABLE, e.getMessage()));
  }

  @Override
  public void close() {
    if (keepAlives != null) {
      keepAlives.dispose();
    }
    connection.close().block(timeout);
  }

  private static String rootMessage(Throwable error) {
    Throwable cause = error;
    while (cause.getCause() != null && cause.getCause() != cause) {
      cause = cause.getCause();
    }
    return cause.getMessage() != null ? cause.getMessage() : cause.toString();
  }
}

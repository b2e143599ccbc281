package io.skymesh.mesh.internal.naming;

import io.netty.buffer.ByteBuf;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import reactor.core.publisher.Mono;
import reactor.core.publisher.SynchronousSink;
import reactor.netty.Connection;
import reactor.netty.DisposableServer;
import reactor.netty.tcp.TcpClient;
import reactor.netty.tcp.TcpServer;

/**
 * A loopback TCP proxy in front of a name server that can stop forwarding without closing anything,
 * as a frozen (SIGSTOP) or partitioned node would look to its clients: bytes in either direction
 * are dropped, and the server closing its side is not passed on while frozen.
 */
public final class StallingProxy implements AutoCloseable {

  private final DisposableServer server;
  private final Set<Connection> connections = ConcurrentHashMap.newKeySet();
  private volatile boolean frozen;

  /**
   * Starts a proxy to {@code target} on a free loopback port.
   *
   * @param target the name server's address
   * @param deadline how long binding may take
   */
  public StallingProxy(InetSocketAddress target, Duration deadline) {
    this.server =
        TcpServer.create()
            .host("127.0.0.1")
            .port(0)
            .handle(
                (in, out) ->
                    TcpClient.newConnection()
                        .host(target.getHostString())
                        .port(target.getPort())
                        .connect()
                        .flatMap(
                            upstream -> {
                              connections.add(upstream);
                              in.withConnection(
                                  downstream -> {
                                    connections.add(downstream);
                                    downstream.onDispose(upstream::dispose);
                                    upstream.onDispose(
                                        () -> {
                                          if (!frozen) {
                                            downstream.dispose();
                                          }
                                        });
                                  });
                              upstream
                                  .outbound()
                                  .send(in.receive().retain().handle(this::forward))
                                  .then()
                                  .subscribe(null, e -> upstream.dispose());
                              return out.send(
                                      upstream.inbound().receive().retain().handle(this::forward))
                                  .then()
                                  .then(Mono.never());
                            }))
            .bindNow(deadline);
  }

  /** The proxy's address, {@code 127.0.0.1:port}. */
  public InetSocketAddress address() {
    return InetSocketAddress.createUnresolved("127.0.0.1", server.port());
  }

  /** Stops forwarding: everything sent either way from now on is dropped. */
  public void freeze() {
    frozen = true;
  }

  /** Forwards again (what was dropped stays lost). */
  public void thaw() {
    frozen = false;
  }

  private void forward(ByteBuf buffer, SynchronousSink<ByteBuf> sink) {
    if (frozen) {
      buffer.release();
    } else {
      sink.next(buffer);
    }
  }

  @Override
  public void close() {
    server.disposeNow();
    connections.forEach(Connection::dispose);
  }
}

package io.skymesh.benchmarks;

import io.rsocket.RSocket;
import io.rsocket.SocketAcceptor;
import io.rsocket.core.RSocketConnector;
import io.rsocket.core.RSocketServer;
import io.rsocket.frame.decoder.PayloadDecoder;
import io.rsocket.transport.netty.client.TcpClientTransport;
import io.rsocket.transport.netty.server.CloseableChannel;
import io.rsocket.transport.netty.server.TcpServerTransport;
import java.time.Duration;

/**
 * The RSocket side of the benchmarks: a responder and a client connected to it, both with {@code
 * PayloadDecoder.ZERO_COPY}, over the trial's transport. Setup and teardown only; they block.
 */
final class RSocketPair {

  private final CloseableChannel server;
  private final RSocket client;

  private RSocketPair(CloseableChannel server, RSocket client) {
    this.server = server;
    this.client = client;
  }

  /** Binds a server answering with {@code acceptor} and connects a client to it. */
  static RSocketPair start(String transport, SocketAcceptor acceptor, Duration timeout) {
    CloseableChannel server =
        RSocketServer.create(acceptor)
            .payloadDecoder(PayloadDecoder.ZERO_COPY)
            .bind(TcpServerTransport.create(Transport.rsocketServer(transport)))
            .block(timeout);
    RSocket client =
        RSocketConnector.create()
            .payloadDecoder(PayloadDecoder.ZERO_COPY)
            .connect(
                TcpClientTransport.create(
                    Transport.rsocketClient(transport, server.address().getPort())))
            .block(timeout);
    return new RSocketPair(server, client);
  }

  /** The client. */
  RSocket client() {
    return client;
  }

  /** Disposes the client, then the server, and waits for both. */
  void stop(Duration timeout) {
    client.dispose();
    client.onClose().block(timeout);
    server.dispose();
    server.onClose().block(timeout);
  }

  /** One line about the pair. */
  String describe() {
    return "RSocket: server " + server.address();
  }

  /** The port the server listens on. */
  int serverPort() {
    return server.address().getPort();
  }
}

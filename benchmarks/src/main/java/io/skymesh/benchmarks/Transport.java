package io.skymesh.benchmarks;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.pkitesting.X509Bundle;
import io.skymesh.codec.Tls;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshBuilder;
import io.skymesh.testkit.TestPki;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;
import reactor.netty.tcp.TcpClient;
import reactor.netty.tcp.TcpServer;

/**
 * The {@code transport} parameter of the peer benchmarks: {@code plain} (the default, as before the
 * parameter existed) or {@code tls}, every side of the run over TLS set up alike, so that their
 * ratios stay like for like.
 *
 * <ul>
 *   <li>One test authority and one certificate for {@code localhost} and {@code 127.0.0.1} (EC
 *       P-256, from netty-pkitesting), made once per JVM; every server and every client presents
 *       it: mutual TLS on all three sides, each client checking the server's certificate against
 *       the host it dialed.
 *   <li>Netty's JDK SSL provider on all three sides (grpc-netty-shaded carries BoringSSL and would
 *       pick it; the other two have no OpenSSL on the class path), {@value #PROTOCOL} with the one
 *       cipher suite {@value #CIPHER}.
 *   <li>Skymesh: {@code MeshBuilder.peerTls} on both meshes (the name-server connection, off the
 *       measured path, stays plaintext). RSocket: {@code TcpServer.secure} and {@code
 *       TcpClient.secure} under its TCP transport. gRPC: {@code NettyServerBuilder.sslContext} and
 *       {@code NettyChannelBuilder.sslContext} with contexts from {@code GrpcSslContexts} (ALPN
 *       {@code h2}).
 * </ul>
 *
 * <p>Handshakes happen in the trial's setup, never in a measured method. {@link #check} then makes
 * a TLS handshake of its own with each server, so a side that is not speaking TLS, or negotiates
 * something else, fails the trial instead of scoring.
 */
final class Transport {

  /** Plaintext TCP. */
  static final String PLAIN = "plain";

  /** TLS on every side. */
  static final String TLS = "tls";

  /** The only protocol version the contexts enable. */
  static final String PROTOCOL = "TLSv1.3";

  /** The only cipher suite the contexts enable. */
  static final String CIPHER = "TLS_AES_128_GCM_SHA256";

  /** Where every server listens, and what the certificate names. */
  static final String HOST = "127.0.0.1";

  private static final Duration HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);

  private Transport() {}

  /**
   * Whether {@code transport} is {@code tls}.
   *
   * @throws IllegalArgumentException for a value other than {@code plain} or {@code tls}
   */
  static boolean isTls(String transport) {
    return switch (transport) {
      case PLAIN -> false;
      case TLS -> true;
      default ->
          throw new IllegalArgumentException(
              "transport: \"" + transport + "\" (expected: plain or tls)");
    };
  }

  /** The mesh with {@code peerTls} when {@code transport} is {@code tls}. */
  static MeshBuilder mesh(String transport, MeshBuilder mesh) {
    return isTls(transport) ? mesh.peerTls(Contexts.SERVER, Contexts.CLIENT) : mesh;
  }

  /**
   * Starts a benchmark mesh of app {@code bench} on {@code nameServer}, with the trial's transport
   * and observability, on {@code side}'s event loops ({@link EventLoops}), and waits for it: setup
   * only. Its request and reply payloads are held in pooled buffers ({@code
   * MeshBuilder.pooledPayloads}), released after use, as RSocket's are with {@code
   * PayloadDecoder.ZERO_COPY} on the other side of the comparison.
   */
  static Mesh startMesh(
      EventLoops.Side side,
      String transport,
      String observability,
      String nameServer,
      Duration timeout) {
    MeshBuilder builder = Mesh.builder("bench").nameServer(nameServer).pooledPayloads(true);
    return mesh(transport, Observability.apply(observability, EventLoops.mesh(side, builder)))
        .start()
        .block(timeout);
  }

  /**
   * RSocket's TCP server on {@link #HOST} and a free port, as {@code TcpServerTransport.create}, on
   * the handler's event loops ({@link EventLoops}).
   */
  static TcpServer rsocketServer(String transport) {
    TcpServer server = EventLoops.rsocketServer(TcpServer.create().host(HOST).port(0));
    return isTls(transport) ? server.secure(spec -> spec.sslContext(Contexts.SERVER)) : server;
  }

  /**
   * RSocket's TCP client to {@link #HOST}:{@code port}, as {@code TcpClientTransport.create}, on
   * the caller's event loops ({@link EventLoops}).
   */
  static TcpClient rsocketClient(String transport, int port) {
    TcpClient client = EventLoops.rsocketClient(TcpClient.create().host(HOST).port(port));
    return isTls(transport)
        ? client.secure(
            spec -> spec.sslContext(Contexts.CLIENT).handlerConfigurator(Tls::verifyHostname))
        : client;
  }

  /** The gRPC server with TLS when {@code transport} is {@code tls}. */
  static NettyServerBuilder grpcServer(String transport, NettyServerBuilder server) {
    return isTls(transport) ? server.sslContext(Contexts.GRPC_SERVER) : server;
  }

  /**
   * Starts a gRPC server on {@link #HOST} and a free port with {@code service}, {@code
   * directExecutor()}, the trial's transport and the handler's event loops ({@link EventLoops}).
   */
  static Server startGrpcServer(String transport, ServerServiceDefinition service)
      throws IOException {
    NettyServerBuilder server = NettyServerBuilder.forAddress(new InetSocketAddress(HOST, 0));
    return grpcServer(transport, EventLoops.grpcServer(server))
        .directExecutor()
        .addService(service)
        .build()
        .start();
  }

  /**
   * A gRPC channel to {@link #HOST}:{@code port} with {@code directExecutor()}, on the caller's
   * event loops ({@link EventLoops}).
   */
  static ManagedChannel grpcChannel(String transport, int port) {
    return grpcChannel(
            transport, EventLoops.grpcChannel(NettyChannelBuilder.forAddress(HOST, port)))
        .directExecutor()
        .build();
  }

  /** The gRPC channel with TLS, or plaintext. */
  static NettyChannelBuilder grpcChannel(String transport, NettyChannelBuilder channel) {
    return isTls(transport) ? channel.sslContext(Contexts.GRPC_CLIENT) : channel.usePlaintext();
  }

  /**
   * Checks that the server at {@link #HOST}:{@code port} speaks TLS as configured, with a handshake
   * of its own that offers the JDK's default protocols and cipher suites: the server must choose
   * {@value #PROTOCOL} and {@value #CIPHER}. Blocking; for a trial's setup.
   *
   * @return a line saying what runs, for the trial's output
   * @throws IllegalStateException if the handshake fails or negotiates anything else
   */
  static String check(String transport, int port) {
    if (!isTls(transport)) {
      return "plaintext";
    }
    try {
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(
          Contexts.IDENTITY.toKeyManagerFactory().getKeyManagers(),
          Contexts.PKI.authority().toTrustManagerFactory().getTrustManagers(),
          null);
      try (SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket(HOST, port)) {
        socket.setSoTimeout((int) HANDSHAKE_TIMEOUT.toMillis());
        SSLParameters parameters = socket.getSSLParameters();
        parameters.setEndpointIdentificationAlgorithm("HTTPS");
        parameters.setApplicationProtocols(new String[] {"h2"});
        socket.setSSLParameters(parameters);
        socket.startHandshake();
        SSLSession session = socket.getSession();
        if (!PROTOCOL.equals(session.getProtocol()) || !CIPHER.equals(session.getCipherSuite())) {
          throw new IllegalStateException(
              "the server at "
                  + HOST
                  + ":"
                  + port
                  + " negotiated "
                  + session.getProtocol()
                  + " "
                  + session.getCipherSuite()
                  + " (expected: "
                  + PROTOCOL
                  + " "
                  + CIPHER
                  + ")");
        }
        return "TLS "
            + session.getProtocol()
            + " "
            + session.getCipherSuite()
            + ", mutual, JDK provider";
      }
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalStateException(
          "no TLS handshake with the server at " + HOST + ":" + port, e);
    }
  }

  /** The certificates and contexts, made on first use: never in a plaintext run. */
  private static final class Contexts {

    static final TestPki PKI = TestPki.create();
    static final X509Bundle IDENTITY = PKI.issue("localhost", HOST);

    static final SslContext SERVER;
    static final SslContext CLIENT;
    static final io.grpc.netty.shaded.io.netty.handler.ssl.SslContext GRPC_SERVER;
    static final io.grpc.netty.shaded.io.netty.handler.ssl.SslContext GRPC_CLIENT;

    static {
      try {
        SERVER =
            SslContextBuilder.forServer(
                    IDENTITY.getKeyPair().getPrivate(), IDENTITY.getCertificatePath())
                .sslProvider(SslProvider.JDK)
                .protocols(PROTOCOL)
                .ciphers(List.of(CIPHER))
                .clientAuth(ClientAuth.REQUIRE)
                .trustManager(PKI.authority().getCertificate())
                .build();
        CLIENT =
            SslContextBuilder.forClient()
                .sslProvider(SslProvider.JDK)
                .protocols(PROTOCOL)
                .ciphers(List.of(CIPHER))
                .keyManager(IDENTITY.getKeyPair().getPrivate(), IDENTITY.getCertificatePath())
                .trustManager(PKI.authority().getCertificate())
                .build();
        GRPC_SERVER =
            GrpcSslContexts.configure(
                    io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder.forServer(
                        IDENTITY.getKeyPair().getPrivate(), IDENTITY.getCertificatePath()),
                    io.grpc.netty.shaded.io.netty.handler.ssl.SslProvider.JDK)
                .protocols(PROTOCOL)
                .ciphers(List.of(CIPHER))
                .clientAuth(io.grpc.netty.shaded.io.netty.handler.ssl.ClientAuth.REQUIRE)
                .trustManager(PKI.authority().getCertificate())
                .build();
        GRPC_CLIENT =
            GrpcSslContexts.configure(
                    io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder.forClient(),
                    io.grpc.netty.shaded.io.netty.handler.ssl.SslProvider.JDK)
                .protocols(PROTOCOL)
                .ciphers(List.of(CIPHER))
                .keyManager(IDENTITY.getKeyPair().getPrivate(), IDENTITY.getCertificatePath())
                .trustManager(PKI.authority().getCertificate())
                .build();
      } catch (SSLException e) {
        throw new IllegalStateException("cannot make the benchmark's TLS contexts", e);
      }
    }

    private Contexts() {}
  }
}

package io.skymesh.nameserver.cli;

import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.nio.file.Path;
import javax.net.ssl.SSLException;

/**
 * The command line's TLS options as Netty {@link SslContext}s, built from PEM files by Netty's
 * {@link SslContextBuilder}. Reads files: the command's own thread only (a blocking edge).
 */
final class TlsFiles {

  private TlsFiles() {}

  /**
   * The server's context: its certificate chain and key, and for mutual TLS the clients'
   * authorities.
   *
   * @throws IllegalArgumentException naming the option that is missing or cannot be read
   */
  static SslContext server(Path cert, Path key, Path clientCa) {
    if (cert == null || key == null) {
      throw new IllegalArgumentException(
          "TLS needs both --tls-cert and --tls-key (the server's certificate chain and key)");
    }
    try {
      SslContextBuilder builder = SslContextBuilder.forServer(cert.toFile(), key.toFile());
      if (clientCa != null) {
        builder.clientAuth(ClientAuth.REQUIRE).trustManager(clientCa.toFile());
      }
      return builder.build();
    } catch (SSLException | IllegalArgumentException e) {
      throw new IllegalArgumentException("--tls-cert, --tls-key, --tls-client-ca: " + e, e);
    }
  }

  /**
   * A client's context: the authorities it trusts (the JVM's when {@code ca} is null), and for
   * mutual TLS its own certificate chain and key.
   *
   * @throws IllegalArgumentException naming the option that is missing or cannot be read
   */
  static SslContext client(Path ca, Path cert, Path key) {
    if ((cert == null) != (key == null)) {
      throw new IllegalArgumentException("mutual TLS needs both --tls-cert and --tls-key");
    }
    try {
      SslContextBuilder builder = SslContextBuilder.forClient();
      if (ca != null) {
        builder.trustManager(ca.toFile());
      }
      if (cert != null) {
        builder.keyManager(cert.toFile(), key.toFile());
      }
      return builder.build();
    } catch (SSLException | IllegalArgumentException e) {
      throw new IllegalArgumentException("--tls-ca, --tls-cert, --tls-key: " + e, e);
    }
  }
}

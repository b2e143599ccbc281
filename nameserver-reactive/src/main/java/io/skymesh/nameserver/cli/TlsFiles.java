package io.skymesh.nameserver.cli;

import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.nio.file.Path;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The command line's TLS options as Netty {@link SslContext}s, built from PEM files by Netty's
 * {@link SslContextBuilder}: with OpenSSL (netty-tcnative's BoringSSL, which the standalone jar
 * carries) when Netty can load it, with the JDK's TLS otherwise or when {@code
 * -Dio.netty.handler.ssl.noOpenSsl=true} says so. Reads files and may load OpenSSL's native
 * library: the command's own thread only (a blocking edge), never an event loop.
 */
final class TlsFiles {

  private static final Logger log = LoggerFactory.getLogger(TlsFiles.class);

  private TlsFiles() {}

  /**
   * The TLS implementation of every context built here, chosen once and logged at first use.
   *
   * @return {@link SslProvider#OPENSSL} when Netty can load OpenSSL, else {@link SslProvider#JDK}
   */
  static SslProvider provider() {
    return Chosen.PROVIDER;
  }

  /** Loads OpenSSL (file I/O) on the first caller's thread, once. */
  private static final class Chosen {
    static final SslProvider PROVIDER = choose();

    private static SslProvider choose() {
      if (OpenSsl.isAvailable()) {
        log.info("TLS provider: OpenSSL ({})", OpenSsl.versionString());
        return SslProvider.OPENSSL;
      }
      Throwable why = OpenSsl.unavailabilityCause();
      log.info("TLS provider: JDK (OpenSSL unavailable: {})", why == null ? "unknown" : why);
      return SslProvider.JDK;
    }
  }

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
      SslContextBuilder builder =
          SslContextBuilder.forServer(cert.toFile(), key.toFile()).sslProvider(provider());
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
      SslContextBuilder builder = SslContextBuilder.forClient().sslProvider(provider());
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

package io.skymesh.nameserver.etcd.internal;

import io.grpc.netty.GrpcSslContexts;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.nio.file.Path;
import javax.net.ssl.SSLException;

/**
 * A name-server node's TLS to etcd, from PEM files: the authorities that issued etcd's server
 * certificate and, for etcd's {@code --client-cert-auth}, the node's own certificate and key.
 *
 * @param ca the authorities' certificates; null: the JVM's trusted authorities
 * @param cert the node's certificate chain; null: none (then {@code key} is null too)
 * @param key the private key of {@code cert} (PKCS#8)
 */
public record EtcdTls(Path ca, Path cert, Path key) {

  /**
   * Checks that the certificate and its key come together.
   *
   * @throws IllegalArgumentException naming the setting that is missing
   */
  public EtcdTls {
    if ((cert == null) != (key == null)) {
      throw new IllegalArgumentException(
          "etcd-cert and etcd-key: give both or neither (the node's client certificate and its"
              + " key)");
    }
  }

  /**
   * Reads the files into a gRPC client context (HTTP/2 by ALPN), with OpenSSL when Netty finds it
   * and the JDK's TLS otherwise. Reads files: call it on a thread that may block.
   *
   * @return the context
   * @throws IllegalArgumentException naming the settings whose files cannot be read
   */
  public SslContext context() {
    try {
      SslContextBuilder builder = GrpcSslContexts.forClient();
      if (ca != null) {
        builder.trustManager(ca.toFile());
      }
      if (cert != null) {
        builder.keyManager(cert.toFile(), key.toFile());
      }
      return builder.build();
    } catch (SSLException | IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "etcd TLS files (etcd-ca " + ca + ", etcd-cert " + cert + ", etcd-key " + key + "): " + e,
          e);
    }
  }

  /**
   * Which TLS implementation a context built now uses, for the start-up log.
   *
   * @return {@code "OpenSSL (version)"} or {@code "JDK"}
   */
  public static String provider() {
    return OpenSsl.isAvailable() ? "OpenSSL (" + OpenSsl.versionString() + ")" : "JDK";
  }
}

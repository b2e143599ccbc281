package io.skymesh.testkit;

import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.pkitesting.CertificateBuilder;
import io.netty.pkitesting.X509Bundle;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import javax.net.ssl.SSLException;

/**
 * A certificate authority made at run time, and the certificates and Netty {@link SslContext}s the
 * TLS tests need: servers named for loopback (or for another host, to be refused), clients for
 * mutual TLS. Nothing is read from or written to disk unless a test asks for PEM files.
 *
 * <pre>{@code
 * TestPki pki = TestPki.create();
 * SslContext server = pki.serverContext(pki.issue("localhost", "127.0.0.1"), false);
 * SslContext client = pki.clientContext(null);
 * }</pre>
 */
public final class TestPki {

  private final X509Bundle authority;

  private TestPki(X509Bundle authority) {
    this.authority = authority;
  }

  /** A new authority, valid for a day. */
  public static TestPki create() {
    try {
      return new TestPki(
          base().subject("CN=Skymesh test CA").setIsCertificateAuthority(true).buildSelfSigned());
    } catch (Exception e) {
      throw new IllegalStateException("cannot make a test certificate authority", e);
    }
  }

  private static CertificateBuilder base() {
    Instant now = Instant.now();
    return new CertificateBuilder()
        .ecp256()
        .notBefore(now.minus(1, ChronoUnit.HOURS))
        .notAfter(now.plus(1, ChronoUnit.DAYS));
  }

  /** The authority itself: its certificate is what clients and servers trust. */
  public X509Bundle authority() {
    return authority;
  }

  /**
   * A certificate issued by this authority for these names: each an IP address (an IP SAN) or a
   * host name (a DNS SAN); good for servers and clients alike.
   */
  public X509Bundle issue(String... names) {
    CertificateBuilder builder =
        base()
            .subject("CN=" + (names.length == 0 ? "client" : names[0]))
            .addExtendedKeyUsageServerAuth()
            .addExtendedKeyUsageClientAuth();
    for (String name : names) {
      if (Character.isDigit(name.charAt(0)) || name.contains(":")) {
        builder.addSanIpAddress(name);
      } else {
        builder.addSanDnsName(name);
      }
    }
    try {
      return builder.buildIssuedBy(authority);
    } catch (Exception e) {
      throw new IllegalStateException("cannot issue a test certificate", e);
    }
  }

  /** A server context presenting {@code identity}; {@code requireClients}: mutual TLS. */
  public SslContext serverContext(X509Bundle identity, boolean requireClients) {
    try {
      SslContextBuilder builder =
          SslContextBuilder.forServer(
              identity.getKeyPair().getPrivate(), identity.getCertificatePath());
      if (requireClients) {
        builder.clientAuth(ClientAuth.REQUIRE).trustManager(authority.getCertificate());
      }
      return builder.build();
    } catch (SSLException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A client context trusting this authority, presenting {@code identity} if not null. */
  public SslContext clientContext(X509Bundle identity) {
    try {
      SslContextBuilder builder =
          SslContextBuilder.forClient().trustManager(authority.getCertificate());
      if (identity != null) {
        builder.keyManager(identity.getKeyPair().getPrivate(), identity.getCertificatePath());
      }
      return builder.build();
    } catch (SSLException e) {
      throw new IllegalStateException(e);
    }
  }
}

package io.skymesh.nameserver.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.pkitesting.X509Bundle;
import io.skymesh.nameserver.NameServer;
import io.skymesh.testkit.TestPki;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code serve --tls-cert/--tls-key/--tls-client-ca} and the admin verbs' TLS options. */
class TlsCliTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  @TempDir Path dir;

  private String pem(String name, String text) throws IOException {
    return Files.writeString(dir.resolve(name), text).toString();
  }

  @Test
  void aTlsServerAnswersTlsClientsOfItsAuthorityOnly() throws IOException {
    TestPki pki = TestPki.create();
    X509Bundle server = pki.issue("localhost", "127.0.0.1");
    X509Bundle client = pki.issue("ops");
    String ca = pem("ca.pem", pki.authority().getCertificatePEM());
    NameServer started =
        CliRun.serveCommand(
                "serve",
                "--port",
                "0",
                "--tls-cert",
                pem("server.pem", server.getCertificatePathPEM()),
                "--tls-key",
                pem("server.key", server.getPrivateKeyPEM()),
                "--tls-client-ca",
                ca)
            .start()
            .block(TIMEOUT);
    String addr = "127.0.0.1:" + started.port();
    try {
      CliRun mutual =
          CliRun.of(
              "health",
              "--addr",
              addr,
              "--tls-ca",
              ca,
              "--tls-cert",
              pem("client.pem", client.getCertificatePathPEM()),
              "--tls-key",
              pem("client.key", client.getPrivateKeyPEM()));
      assertThat(mutual.status()).as(mutual.err()).isZero();
      assertThat(mutual.out()).startsWith("SERVING");

      CliRun plaintext = CliRun.of("health", "--addr", addr, "--timeout", "3s");
      assertThat(plaintext.status()).isEqualTo(NameServerCli.UNREACHABLE);

      // The JVM's authorities do not know the test's.
      CliRun untrusted = CliRun.of("health", "--addr", addr, "--tls", "--timeout", "3s");
      assertThat(untrusted.status()).isEqualTo(NameServerCli.UNREACHABLE);
      assertThat(untrusted.err()).contains("unable to find valid certification path");
    } finally {
      started.closeNow(TIMEOUT);
    }
  }

  @Test
  void aCertificateWithoutItsKeyIsAUsageError() throws IOException {
    CliRun run = CliRun.of("serve", "--port", "0", "--tls-cert", pem("server.pem", "x"));

    assertThat(run.status()).isEqualTo(NameServerCli.USAGE);
    assertThat(run.err()).contains("TLS needs both --tls-cert and --tls-key");
  }
}

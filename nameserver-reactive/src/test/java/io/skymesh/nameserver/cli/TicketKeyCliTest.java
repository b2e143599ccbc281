package io.skymesh.nameserver.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.skymesh.codec.Tickets;
import io.skymesh.nameserver.NameServer;
import io.skymesh.nameserver.client.NameServerConnection;
import io.skymesh.proto.IssueTicket;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.OpenSession;
import io.skymesh.proto.TicketClaims;
import io.skymesh.proto.TicketIssued;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Key;
import java.security.KeyPair;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code serve --ticket-key} and {@code --ticket-lifetime}. */
class TicketKeyCliTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  @TempDir Path dir;

  private static String pem(String type, Key key) {
    return "-----BEGIN "
        + type
        + "-----\n"
        + Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(key.getEncoded())
        + "\n-----END "
        + type
        + "-----\n";
  }

  private String file(String name, String text) throws IOException {
    return Files.writeString(dir.resolve(name), text).toString();
  }

  @Test
  void theServerSignsWithTheKeyInTheFileForTheLifetimeGiven() throws Exception {
    KeyPair key = Tickets.newKeyPair();
    String keyFile =
        file(
            "ticket-key.pem",
            pem("PRIVATE KEY", key.getPrivate()) + pem("PUBLIC KEY", key.getPublic()));
    NameServer server =
        CliRun.serveCommand(
                "serve", "--port", "0", "--ticket-key", keyFile, "--ticket-lifetime", "45s")
            .start()
            .block(TIMEOUT);
    NameServerConnection connection =
        NameServerConnection.builder("127.0.0.1", server.port()).connect().block(TIMEOUT);
    try {
      connection
          .request(
              NameClientFrame.newBuilder()
                  .setOpenSession(OpenSession.newBuilder().setProtocolVersion(1).setAppId("game")))
          .block(TIMEOUT);
      TicketIssued issued =
          connection
              .request(
                  NameClientFrame.newBuilder()
                      .setIssueTicket(
                          IssueTicket.newBuilder()
                              .setHolderKey(Tickets.encode(Tickets.newKeyPair().getPublic()))))
              .block(TIMEOUT)
              .getTicketIssued();
      TicketClaims claims = Tickets.verify(issued.getTicket(), List.of(key.getPublic()));
      assertThat(claims.getExpiresAtMillis() - claims.getIssuedAtMillis()).isEqualTo(45_000);
    } finally {
      connection.dispose();
      server.closeNow(TIMEOUT);
    }
  }

  @Test
  void aKeyFileWithoutItsPublicKeyOrWithAnotherPairsIsAUsageError() throws IOException {
    KeyPair key = Tickets.newKeyPair();
    String privateOnly = file("private.pem", pem("PRIVATE KEY", key.getPrivate()));
    CliRun missing = CliRun.of("serve", "--port", "0", "--ticket-key", privateOnly);
    assertThat(missing.status()).isEqualTo(NameServerCli.USAGE);
    assertThat(missing.err()).contains("--ticket-key").contains("found no public key");

    String mismatched =
        file(
            "mismatched.pem",
            pem("PRIVATE KEY", key.getPrivate())
                + pem("PUBLIC KEY", Tickets.newKeyPair().getPublic()));
    CliRun wrong = CliRun.of("serve", "--port", "0", "--ticket-key", mismatched);
    assertThat(wrong.status()).isEqualTo(NameServerCli.USAGE);
    assertThat(wrong.err()).contains("its public key is not the private key's");

    CliRun tooShort = CliRun.of("serve", "--port", "0", "--ticket-lifetime", "10ms");
    assertThat(tooShort.status()).isEqualTo(NameServerCli.USAGE);
    assertThat(tooShort.err()).contains("ticketLifetime: PT0.01S (expected: at least PT1S)");
  }
}

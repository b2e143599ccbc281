package io.skymesh.nameserver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.skymesh.codec.Tickets;
import io.skymesh.proto.IssueTicket;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.Status;
import io.skymesh.proto.StatusCode;
import io.skymesh.proto.TicketClaims;
import io.skymesh.proto.TicketIssued;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code IssueTicket}: what the name server signs, with which key, and what it refuses. */
class PeerTicketIssueTest extends NameServerTestSupport {

  private static NameClientFrame.Builder issue(ByteString holderKey) {
    return NameClientFrame.newBuilder()
        .setIssueTicket(IssueTicket.newBuilder().setHolderKey(holderKey));
  }

  @Test
  void aTicketNamesTheSessionsAppAndTheHolderAndIsSignedWithTheServersKey() throws Exception {
    KeyPair serverKey = Tickets.newKeyPair();
    NameServer server = start(b -> b.ticketKey(serverKey).ticketLifetime(Duration.ofSeconds(90)));
    TestClient client = open(server, "game");
    ByteString holder = Tickets.encode(Tickets.newKeyPair().getPublic());
    long before = System.currentTimeMillis();

    TicketIssued issued = client.ack(issue(holder)).block(TIMEOUT).getTicketIssued();

    assertThat(issued.getIssuerKey()).isEqualTo(Tickets.encode(serverKey.getPublic()));
    TicketClaims claims = Tickets.verify(issued.getTicket(), List.of(serverKey.getPublic()));
    assertThat(claims.getAppId()).isEqualTo("game");
    assertThat(claims.getHolderKey()).isEqualTo(holder);
    assertThat(claims.getIssuedAtMillis()).isBetween(before, System.currentTimeMillis());
    assertThat(claims.getExpiresAtMillis() - claims.getIssuedAtMillis()).isEqualTo(90_000);
    assertThat(claims.getSessionId()).isNotEmpty();
    // Another issuer's key does not verify it.
    assertThatThrownBy(
            () -> Tickets.verify(issued.getTicket(), List.of(Tickets.newKeyPair().getPublic())))
        .isInstanceOf(Tickets.InvalidTicketException.class)
        .hasMessageContaining("not signed by a trusted issuer");
    // Nothing is stored: the revision did not move.
    assertThat(server.revision()).isZero();
  }

  @Test
  void withoutAKeyTheServerMakesOneAndHandsOutItsPublicHalf() throws Exception {
    NameServer server = start();
    TestClient client = open(server, "game");

    TicketIssued first =
        client
            .ack(issue(Tickets.encode(Tickets.newKeyPair().getPublic())))
            .block(TIMEOUT)
            .getTicketIssued();
    TicketIssued second =
        client
            .ack(issue(Tickets.encode(Tickets.newKeyPair().getPublic())))
            .block(TIMEOUT)
            .getTicketIssued();

    assertThat(second.getIssuerKey()).isEqualTo(first.getIssuerKey());
    Tickets.verify(first.getTicket(), List.of(Tickets.decodeKey(first.getIssuerKey())));
  }

  @Test
  void aServerWithADataDirectoryKeepsItsKeyAcrossARestart(@TempDir Path directory)
      throws Exception {
    ByteString holder = Tickets.encode(Tickets.newKeyPair().getPublic());
    NameServer first = start(b -> b.dataDirectory(directory));
    ByteString before =
        open(first, "game").ack(issue(holder)).block(TIMEOUT).getTicketIssued().getIssuerKey();
    first.closeNow(TIMEOUT);

    NameServer second = start(b -> b.dataDirectory(directory));
    ByteString after =
        open(second, "game").ack(issue(holder)).block(TIMEOUT).getTicketIssued().getIssuerKey();

    assertThat(after).isEqualTo(before);
    Path file = directory.resolve("ticket-key.pem");
    if (FileSystems.getDefault().supportedFileAttributeViews().contains("posix")) {
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file)))
          .isEqualTo("rw-------");
    }
    assertThat(Files.readString(file)).contains("-----BEGIN PRIVATE KEY-----");
  }

  @Test
  void aHolderKeyThatIsNotEd25519IsInvalidAndTheSessionGoesOn() {
    NameServer server = start();
    TestClient client = open(server, "game");

    for (ByteString bad :
        List.of(
            ByteString.EMPTY,
            ByteString.copyFromUtf8("not a key"),
            ByteString.copyFrom(new byte[44]))) {
      Status status = client.error(issue(bad)).block(TIMEOUT);
      assertThat(status.getCode()).isEqualTo(StatusCode.INVALID_ARGUMENT);
      assertThat(status.getMessage())
          .startsWith("IssueTicket.holder_key: not an Ed25519 public key");
    }
    assertThat(client.keepAlive().block(TIMEOUT)).isNotNull();
  }
}

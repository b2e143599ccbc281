package io.skymesh.nameserver.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.skymesh.nameserver.NameServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code serve --principals FILE}, and the admin verbs' {@code --token}, through the CLI. */
class PrincipalsCliTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  @TempDir Path dir;

  private Path principals(String text) throws IOException {
    return Files.writeString(dir.resolve("principals"), text);
  }

  @Test
  void adminVerbsCarryTheirTokenAndAreCheckedAgainstItsRoles() throws IOException {
    Path file =
        principals(
            """
            # name  token          roles   apps
            ops     ops-secret     admin   *     # every app
            viewer  viewer-secret  reader  game
            """);
    NameServer server =
        CliRun.serveCommand("serve", "--port", "0", "--principals", file.toString())
            .start()
            .block(TIMEOUT);
    String addr = "127.0.0.1:" + server.port();
    try {
      CliRun noToken = CliRun.of("kv", "put", "game/motd", "hi", "--addr", addr);
      assertThat(noToken.status()).isEqualTo(NameServerCli.REFUSED);
      assertThat(noToken.err())
          .contains("UNAUTHENTICATED: this name server requires a token (OpenSession.token)");

      CliRun reader =
          CliRun.of("kv", "put", "game/motd", "hi", "--addr", addr, "--token", "viewer-secret");
      assertThat(reader.status()).isEqualTo(NameServerCli.REFUSED);
      assertThat(reader.err())
          .contains("PERMISSION_DENIED: viewer may not write KV keys of app \"game\"");

      assertThat(
              CliRun.of("kv", "put", "game/motd", "hi", "--addr", addr, "--token", "ops-secret")
                  .status())
          .isZero();
      CliRun read = CliRun.of("kv", "get", "game/motd", "--addr", addr, "--token", "viewer-secret");
      assertThat(read.status()).isZero();
      assertThat(read.out()).contains("hi");
      // A health check needs no token.
      assertThat(CliRun.of("health", "--addr", addr).status()).isZero();
    } finally {
      server.closeNow(TIMEOUT);
    }
  }

  @Test
  void aBadPrincipalsFileIsAUsageErrorNamingItsLine() throws IOException {
    Path file = principals("ops ops-secret admin *\nviewer viewer-secret watcher game\n");

    CliRun run = CliRun.of("serve", "--port", "0", "--principals", file.toString());

    assertThat(run.status()).isEqualTo(NameServerCli.USAGE);
    assertThat(run.err())
        .contains(
            file + ":2: role \"watcher\" (expected: service, reader or admin, comma-separated)");
  }

  @Test
  void aLineWithoutFourFieldsIsAUsageError() throws IOException {
    Path file = principals("ops ops-secret admin\n");

    CliRun run = CliRun.of("serve", "--port", "0", "--principals", file.toString());

    assertThat(run.status()).isEqualTo(NameServerCli.USAGE);
    assertThat(run.err()).contains(file + ":1: 3 fields (expected: name token roles apps)");
  }
}

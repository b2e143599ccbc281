package io.skymesh.nameserver.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.skymesh.nameserver.NameServer;
import io.skymesh.nameserver.client.NameServerConnection;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.OpenSession;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import reactor.test.StepVerifier;

/** The command line: parsing, and the server {@code serve} starts. */
class NameServerCliTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  @Test
  void serveStartsANameServerClientsCanUse() {
    CommandLine cli = NameServerCli.commandLine();
    CommandLine.ParseResult parsed =
        cli.parseArgs("serve", "--port", "0", "--session-ttl", "1500ms");
    ServeCommand serve = (ServeCommand) parsed.subcommand().commandSpec().userObject();
    NameServer server = serve.start().block(TIMEOUT);
    try {
      NameServerConnection connection =
          NameServerConnection.builder("127.0.0.1", server.port()).connect().block(TIMEOUT);
      try {
        StepVerifier.create(
                connection.request(
                    NameClientFrame.newBuilder()
                        .setOpenSession(
                            OpenSession.newBuilder().setProtocolVersion(1).setAppId("cli"))))
            .assertNext(ack -> assertThat(ack.getSessionOpened().getTtlMillis()).isEqualTo(1500))
            .expectComplete()
            .verify(TIMEOUT);
      } finally {
        connection.close().block(TIMEOUT);
      }
    } finally {
      server.closeNow(TIMEOUT);
    }
  }

  @Test
  void badOptionValuesAreUsageErrors() {
    StringWriter err = new StringWriter();
    CommandLine cli = NameServerCli.commandLine().setErr(new PrintWriter(err));

    int status = cli.execute("serve", "--port", "70000");

    assertThat(status).isEqualTo(2);
    assertThat(err.toString()).contains("port: 70000 (expected: 0..65535)");
  }

  @Test
  void badDurationIsAUsageError() {
    StringWriter err = new StringWriter();
    CommandLine cli = NameServerCli.commandLine().setErr(new PrintWriter(err));

    int status = cli.execute("serve", "--session-ttl", "soon");

    assertThat(status).isEqualTo(2);
    assertThat(err.toString()).contains("'soon' is not a duration");
  }

  @Test
  void etcdWithoutTheEtcdStoreOnTheClassPathIsAUsageError() {
    StringWriter err = new StringWriter();
    CommandLine cli = NameServerCli.commandLine().setErr(new PrintWriter(err));

    int status = cli.execute("serve", "--port", "0", "--etcd", "http://127.0.0.1:2379");

    assertThat(status).isEqualTo(2);
    assertThat(err.toString())
        .contains("--etcd: no etcd store on the class path")
        .contains("skymesh-nameserver-etcd");
  }

  @Test
  void serveHelpDocumentsEveryOption() {
    StringWriter out = new StringWriter();
    CommandLine cli = NameServerCli.commandLine().setOut(new PrintWriter(out));

    assertThat(cli.execute("serve", "--help")).isZero();

    CommandLine serve = cli.getSubcommands().get("serve");
    assertThat(serve.getCommandSpec().options()).hasSizeGreaterThan(10);
    for (CommandLine.Model.OptionSpec option : serve.getCommandSpec().options()) {
      assertThat(option.description()).as(option.longestName()).isNotEmpty();
      assertThat(String.join(" ", option.description()).trim())
          .as(option.longestName())
          .isNotEmpty();
      assertThat(out.toString()).contains(option.longestName());
    }
    assertThat(out.toString())
        .contains("--data-dir=DIR", "--fsync=POLICY", "--etcd=URLS", "--history-bytes-limit=SIZE")
        .containsPattern("Default:\\s+always")
        .contains("Default: 64MiB");
  }

  @Test
  void dataDirAndEtcdAreExclusive() {
    StringWriter err = new StringWriter();
    CommandLine cli = NameServerCli.commandLine().setErr(new PrintWriter(err));

    int status = cli.execute("serve", "--data-dir", "/tmp/x", "--etcd", "http://127.0.0.1:2379");

    assertThat(status).isEqualTo(2);
    assertThat(err.toString()).contains("--data-dir and --etcd: choose one");
  }

  @Test
  void badFsyncPolicyIsAUsageError() {
    StringWriter err = new StringWriter();
    CommandLine cli = NameServerCli.commandLine().setErr(new PrintWriter(err));

    int status = cli.execute("serve", "--fsync", "sometimes");

    assertThat(status).isEqualTo(2);
    assertThat(err.toString()).contains("'sometimes' is not an fsync policy");
  }

  @Test
  void helpListsServe() {
    StringWriter out = new StringWriter();
    CommandLine cli = NameServerCli.commandLine().setOut(new PrintWriter(out));

    assertThat(cli.execute("--help")).isZero();
    assertThat(out.toString()).contains("serve");
  }
}

package io.skymesh.nameserver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.skymesh.nameserver.cli.NameServerCli;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.testkit.ThreadDumps;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Map;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The admin verbs of the CLI, run through its command line against a real name server. */
class NameServerAdminCliTest extends NameServerTestSupport {

  record Run(int status, String out, String err) {}

  private static Run cli(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli =
        NameServerCli.commandLine().setOut(new PrintWriter(out)).setErr(new PrintWriter(err));
    int status = cli.execute(args);
    return new Run(status, out.toString(), err.toString());
  }

  private static String addr(NameServer server) {
    return "127.0.0.1:" + server.port();
  }

  @Test
  void servicesListsInstancesWithAttributesAndLeaders() {
    NameServer server = start();
    TestClient game = open(server, "game");
    game.ack(
            TestClient.register(
                "game.zone1.lobby/1", "127.0.0.1:7001", Map.of("load", "3", "zone", "eu")))
        .block(TIMEOUT);
    game.register("game.zone1.lobby/2", "127.0.0.1:7002").block(TIMEOUT);
    game.register("game.zone2.chat/1", "127.0.0.1:7003").block(TIMEOUT);
    game.ack(TestClient.campaign("game.zone1.lobby/2")).block(TIMEOUT);

    Run all = cli("services", "--addr", addr(server));
    Run zone1 = cli("services", "game.zone1.", "--addr", addr(server));

    assertThat(all.status()).isZero();
    assertThat(all.out())
        .isEqualTo(
            String.join(
                System.lineSeparator(),
                "game.zone1.lobby  leader game.zone1.lobby/2  term 1",
                "  game.zone1.lobby/1  127.0.0.1:7001  weight 1  {load=3, zone=eu}",
                "  game.zone1.lobby/2  127.0.0.1:7002  weight 1  {}",
                "game.zone2.chat",
                "  game.zone2.chat/1  127.0.0.1:7003  weight 1  {}",
                ""));
    assertThat(zone1.out()).contains("game.zone1.lobby/1").doesNotContain("game.zone2");
  }

  @Test
  void leadersShowsEveryElection() {
    NameServer server = start();
    TestClient game = open(server, "game");
    game.register("game.zone1.lobby/1", "127.0.0.1:7001").block(TIMEOUT);
    game.register("game.zone1.chat/1", "127.0.0.1:7002").block(TIMEOUT);
    game.ack(TestClient.campaign("game.zone1.lobby/1")).block(TIMEOUT);
    game.ack(TestClient.campaign("game.zone1.chat/1")).block(TIMEOUT);
    game.ack(TestClient.resign("game.zone1.chat/1")).block(TIMEOUT);

    Run leaders = cli("leaders", "--addr", addr(server));

    assertThat(leaders.status()).isZero();
    assertThat(leaders.out().lines())
        .containsExactly(
            "game.zone1.chat  (none)  term 1", "game.zone1.lobby  game.zone1.lobby/1  term 1");
  }

  @Test
  void watchPrintsTheSnapshotThenEveryChangeUntilItsCount() throws Exception {
    NameServer server = start();
    FutureTask<Run> watch =
        new FutureTask<>(
            () -> cli("watch", "game.zone1.lobby", "--count", "5", "--addr", addr(server)));
    new Thread(watch, "cli-watch").start();
    await().atMost(TIMEOUT).until(() -> server.metrics().watches() == 1);

    TestClient game = open(server, "game");
    game.register("game.zone1.lobby/1", "127.0.0.1:7001").block(TIMEOUT);
    game.ack(TestClient.campaign("game.zone1.lobby/1")).block(TIMEOUT);
    game.deregister("game.zone1.lobby/1").block(TIMEOUT);
    Run run;
    try {
      run = watch.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      // Seen once in a clean-clone build: the watch never printed its fifth line, and the CLI's
      // session expired as if its keepalives had stopped. Say where every thread was.
      throw new AssertionError(
          "the CLI's watch did not end within " + TIMEOUT + "\n" + ThreadDumps.all(), e);
    }

    assertThat(run.status()).isZero();
    assertThat(run.out().lines())
        .containsExactly(
            "@0 snapshot: 0 instance(s)",
            "@1 added game.zone1.lobby/1  127.0.0.1:7001  weight 1  {}",
            "@2 leader of game.zone1.lobby: game.zone1.lobby/1  term 1",
            "@3 leader of game.zone1.lobby: (none)  term 1",
            "@4 removed game.zone1.lobby/1 (deregistered)");
  }

  @Test
  void watchForADurationEnds() {
    NameServer server = start();

    Run run = cli("watch", "game.zone1.lobby", "--for", "300ms", "--addr", addr(server));

    assertThat(run.status()).isZero();
    assertThat(run.out()).startsWith("@0 snapshot: 0 instance(s)");
  }

  @Test
  void kvVerbs() {
    NameServer server = start();
    String addr = addr(server);

    assertThat(cli("kv", "put", "a", "1", "--addr", addr))
        .isEqualTo(new Run(0, "revision 1\n", ""));
    assertThat(cli("kv", "put", "ab", "2", "--addr", addr).status()).isZero();
    assertThat(cli("kv", "put", "b/x", "3", "--addr", addr).status()).isZero();
    assertThat(cli("kv", "get", "ab", "--addr", addr).out()).isEqualTo("2\n");
    assertThat(cli("kv", "get", "-v", "a", "--addr", addr).out())
        .isEqualTo("1\ncreate_revision 1  mod_revision 1\n");
    assertThat(cli("kv", "list", "--addr", addr).out()).isEqualTo("a = 1\nab = 2\nb/x = 3\n");
    assertThat(cli("kv", "list", "a", "--addr", addr).out()).isEqualTo("a = 1\nab = 2\n");

    Run missing = cli("kv", "get", "nope", "--addr", addr);
    assertThat(missing.status()).isEqualTo(NameServerCli.NOT_FOUND);
    assertThat(missing.err()).contains("key not found: nope");

    Run conflict = cli("kv", "put", "a", "9", "--expect-revision", "0", "--addr", addr);
    assertThat(conflict.status()).isEqualTo(NameServerCli.REFUSED);
    assertThat(conflict.err()).contains("FAILED_PRECONDITION").contains("has mod_revision 1");
    assertThat(cli("kv", "put", "a", "9", "--expect-revision", "1", "--addr", addr).status())
        .isZero();

    assertThat(cli("kv", "delete", "a", "--addr", addr).out()).startsWith("deleted a at revision");
    assertThat(cli("kv", "get", "ab", "--addr", addr).out()).isEqualTo("2\n");
    assertThat(cli("kv", "delete", "a", "--addr", addr).status())
        .isEqualTo(NameServerCli.NOT_FOUND);

    assertThat(cli("kv", "clear", "--addr", addr).status()).isEqualTo(NameServerCli.USAGE);
    assertThat(cli("kv", "clear", "b/", "--addr", addr).out()).isEqualTo("deleted 1 key(s)\n");
    assertThat(cli("kv", "clear", "--all", "--addr", addr).out()).isEqualTo("deleted 1 key(s)\n");
    assertThat(cli("kv", "list", "--addr", addr).out()).isEmpty();
    assertThat(cli("kv", "--addr", addr).status()).isEqualTo(NameServerCli.USAGE);
  }

  @Test
  void clearServicesRemovesInstancesUnderAPrefix() {
    NameServer server = start();
    TestClient game = open(server, "game");
    game.register("game.zone1.lobby/1", "127.0.0.1:7001").block(TIMEOUT);
    game.register("game.zone2.lobby/1", "127.0.0.1:7002").block(TIMEOUT);

    Run usage = cli("clear-services", "--addr", addr(server));
    Run cleared = cli("clear-services", "game.zone1.", "--addr", addr(server));

    assertThat(usage.status()).isEqualTo(NameServerCli.USAGE);
    assertThat(usage.err()).contains("PREFIX or --all");
    assertThat(cleared).isEqualTo(new Run(0, "removed 1 instance(s)\n", ""));
    assertThat(cli("services", "--addr", addr(server)).out())
        .doesNotContain("zone1")
        .contains("game.zone2.lobby/1");
  }

  @Test
  void healthAnswersOnTheProtocolPortWithoutASession() {
    NameServer server = start();
    TestClient game = open(server, "game");
    long revision =
        game.register("game.zone1.lobby/1", "127.0.0.1:7001").block(TIMEOUT).getRevision();

    Run health = cli("health", "--addr", addr(server));

    assertThat(health.status()).isZero();
    assertThat(health.out()).isEqualTo("SERVING  revision " + revision + System.lineSeparator());
    // No session was opened for it: only the game's.
    // Published after the batch that answered: waited for.
    org.awaitility.Awaitility.await()
        .atMost(TIMEOUT)
        .untilAsserted(() -> assertThat(server.metrics().sessions()).isEqualTo(1));
    assertThat(server.counters().requests(NameClientFrame.BodyCase.HEALTH_CHECK)).isEqualTo(1);
    assertThat(server.counters().requests(NameClientFrame.BodyCase.OPEN_SESSION)).isEqualTo(1);
  }

  @Test
  void unreachableServerExitsWith3() {
    NameServer server = start();
    String addr = addr(server);
    server.closeNow(TIMEOUT);

    Run run = cli("kv", "get", "a", "--addr", addr, "--timeout", "2s");

    assertThat(run.status()).isEqualTo(NameServerCli.UNREACHABLE);
    assertThat(run.err()).contains("cannot reach the name server at " + addr);
  }

  @Test
  void badAddressIsAUsageError() {
    Run run = cli("services", "--addr", "localhost");

    assertThat(run.status()).isEqualTo(NameServerCli.USAGE);
    assertThat(run.err()).contains("--addr: 'localhost' (expected: host:port");
  }
}

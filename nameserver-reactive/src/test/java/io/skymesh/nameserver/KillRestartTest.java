package io.skymesh.nameserver;

import static org.assertj.core.api.Assertions.assertThat;

import io.skymesh.nameserver.cli.NameServerCli;
import io.skymesh.proto.KvGetResult;
import io.skymesh.testkit.ForkedJvm;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real name server in a JVM of its own ({@code serve --data-dir}), killed with {@code kill -9}
 * (no close, no shutdown hook) and started again on the same directory.
 */
class KillRestartTest {

  private static final Duration TIMEOUT = TestClient.TIMEOUT;
  private static final Pattern LISTENING = Pattern.compile("Name server listening on \\S*:(\\d+)");

  @TempDir Path dir;

  private ForkedJvm serve(String... extra) {
    ForkedJvm.Builder builder =
        ForkedJvm.builder(NameServerCli.class.getName())
            .jvmArgs("-Xmx128m", "-XX:TieredStopAtLevel=1")
            .args("serve", "--port", "0", "--data-dir", dir.toString())
            .args(extra)
            .readyWhen(LISTENING)
            .deadline(Duration.ofSeconds(60));
    return builder.start();
  }

  private static int port(ForkedJvm server) {
    return Integer.parseInt(server.ready().group(1));
  }

  @Test
  void kvRevisionsAndTermsSurviveKillNine() {
    long a;
    long a2;
    long lastRevision;
    long lastTerm;
    try (ForkedJvm first = serve()) {
      TestClient client = TestClient.open(port(first), "game");
      a = client.put("config/a", "1");
      client.put("config/b", "2");
      a2 = client.ack(TestClient.kvPut("config/a", "3", a)).block(TIMEOUT).getRevision();
      client.register("game.zone1.lobby/1", "127.0.0.1:7001").block(TIMEOUT);
      client.register("game.zone1.lobby/2", "127.0.0.1:7002").block(TIMEOUT);
      client.watchService(1, "game.zone1.lobby", 0).block(TIMEOUT);
      client.ack(TestClient.campaign("game.zone1.lobby/1")).block(TIMEOUT);
      client.ack(TestClient.campaign("game.zone1.lobby/2")).block(TIMEOUT);
      client.ack(TestClient.resign("game.zone1.lobby/1")).block(TIMEOUT);
      lastTerm =
          client
              .events(1)
              .filter(e -> e.hasLeaderChanged())
              .map(e -> e.getLeaderChanged().getTerm())
              .take(2)
              .blockLast(TIMEOUT);
      lastRevision = client.keepAlive().block(TIMEOUT).getRevision();

      assertThat(first.kill()).isEqualTo(137);
      client.close();
    }

    try (ForkedJvm second = serve()) {
      TestClient client = TestClient.open(port(second), "game");
      KvGetResult kept = client.get("config/a");

      assertThat(kept.getEntry().getValue().toStringUtf8()).isEqualTo("3");
      assertThat(kept.getEntry().getCreateRevision()).isEqualTo(a);
      assertThat(kept.getEntry().getModRevision()).isEqualTo(a2);
      assertThat(client.get("config/b").getEntry().getValue().toStringUtf8()).isEqualTo("2");
      assertThat(client.keepAlive().block(TIMEOUT).getRevision()).isGreaterThan(lastRevision);
      assertThat(client.put("config/c", "4")).isGreaterThan(lastRevision);

      client.register("game.zone1.lobby/3", "127.0.0.1:7003").block(TIMEOUT);
      client.watchService(1, "game.zone1.lobby", 0).block(TIMEOUT);
      client.ack(TestClient.campaign("game.zone1.lobby/3")).block(TIMEOUT);
      assertThat(DataDirectoryTest.nextLeaderTerm(client))
          .as("the first leader after the restart")
          .isGreaterThan(lastTerm);
      client.close();
    }
  }

  @Test
  void aTornLastRecordIsCutAndOnlyItIsLost() throws IOException {
    try (ForkedJvm first = serve("--fsync", "never")) {
      TestClient client = TestClient.open(port(first), "ops");
      client.put("k1", "one");
      client.put("k2", "two");
      client.put("k3", "three");
      first.kill();
      client.close();
    }
    // The kill came while k3's record was being written: its last bytes never reached the file.
    Path log = dir.resolve("log");
    try (FileChannel channel = FileChannel.open(log, StandardOpenOption.WRITE)) {
      channel.truncate(channel.size() - 5);
    }

    try (ForkedJvm second = serve()) {
      TestClient client = TestClient.open(port(second), "ops");

      assertThat(client.get("k1").getEntry().getValue().toStringUtf8()).isEqualTo("one");
      assertThat(client.get("k2").getEntry().getValue().toStringUtf8()).isEqualTo("two");
      assertThat(client.get("k3").getFound()).isFalse();
      assertThat(second.output()).anyMatch(line -> line.contains("cut a torn or damaged tail"));

      client.put("k4", "four");
      second.kill();
      client.close();
    }

    try (ForkedJvm third = serve()) {
      TestClient client = TestClient.open(port(third), "ops");

      assertThat(client.get("k4").getEntry().getValue().toStringUtf8())
          .as("written after the cut, where the torn record was")
          .isEqualTo("four");
      assertThat(client.get("k2").getFound()).isTrue();
      assertThat(third.output()).noneMatch(line -> line.contains("cut a torn"));
      client.close();
    }
  }
}

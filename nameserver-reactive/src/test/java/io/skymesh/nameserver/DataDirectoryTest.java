package io.skymesh.nameserver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.skymesh.proto.KvGetResult;
import io.skymesh.proto.Leader;
import io.skymesh.proto.StatusCode;
import io.skymesh.proto.WatchEvent;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The embedded store with a data directory, restarted in this JVM (a graceful close); the kill -9
 * cases run a real forked server in {@link KillRestartTest}.
 */
class DataDirectoryTest extends NameServerTestSupport {

  @TempDir Path dir;

  private NameServer startOn(Path directory) {
    return start(b -> b.dataDirectory(directory));
  }

  /** The term of the next leader_changed event of watch 1 that names a leader. */
  static long nextLeaderTerm(TestClient client) {
    WatchEvent event =
        client
            .events(1)
            .filter(e -> e.hasLeaderChanged() && !e.getLeaderChanged().getLeaderUrl().isEmpty())
            .blockFirst(TIMEOUT);
    Leader leader = event.getLeaderChanged();
    return leader.getTerm();
  }

  @Test
  void kvRevisionsAndTermsSurviveARestart() {
    NameServer first = startOn(dir);
    TestClient client = open(first, "game");
    long a = client.put("config/a", "1");
    client.put("config/b", "2");
    long a2 = client.ack(TestClient.kvPut("config/a", "3", a)).block(TIMEOUT).getRevision();
    client.ack(TestClient.kvDelete("config/b", false)).block(TIMEOUT);
    client.register("game.zone1.lobby/1", "127.0.0.1:7001").block(TIMEOUT);
    client.watchService(1, "game.zone1.lobby", 0).block(TIMEOUT);
    client.ack(TestClient.campaign("game.zone1.lobby/1")).block(TIMEOUT);
    long firstTerm = nextLeaderTerm(client);
    long before = first.revision();
    client.close();
    first.closeNow(TIMEOUT);

    NameServer second = startOn(dir);
    TestClient again = open(second, "game");
    KvGetResult kept = again.get("config/a");

    assertThat(kept.getEntry().getValue().toStringUtf8()).isEqualTo("3");
    assertThat(kept.getEntry().getCreateRevision()).isEqualTo(a);
    assertThat(kept.getEntry().getModRevision()).isEqualTo(a2);
    assertThat(again.get("config/b").getFound()).as("deleted before the restart").isFalse();
    assertThat(second.revision()).isGreaterThan(before);
    assertThat(again.put("config/c", "4")).isGreaterThan(before);
    assertThat(again.error(TestClient.kvPut("config/a", "5", a)).block(TIMEOUT).getCode())
        .as("compare-and-set against the pre-restart mod revision that was overwritten")
        .isEqualTo(StatusCode.FAILED_PRECONDITION);
    again.register("game.zone1.lobby/2", "127.0.0.1:7002").block(TIMEOUT);
    again.watchService(1, "game.zone1.lobby", 0).block(TIMEOUT);
    again.ack(TestClient.campaign("game.zone1.lobby/2")).block(TIMEOUT);
    assertThat(nextLeaderTerm(again)).isGreaterThan(firstTerm);
  }

  @Test
  void oneServerPerDataDirectory() {
    startOn(dir);

    assertThatThrownBy(() -> startOn(dir))
        .hasMessageContaining(dir.toString())
        .hasMessageContaining("another name server is using it");
  }
}

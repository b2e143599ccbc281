package io.skymesh.nameserver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.skymesh.proto.Ack;
import io.skymesh.proto.KvEntry;
import io.skymesh.proto.KvGetResult;
import io.skymesh.proto.Leader;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.OpenSession;
import io.skymesh.proto.SessionOpened;
import io.skymesh.proto.StatusCode;
import io.skymesh.proto.WatchEvent;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.publisher.Flux;

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
  void snapshotsReplaceTheLogAndRestartToTheSameState() throws IOException {
    NameServer first = start(b -> b.dataDirectory(dir).snapshotLogBytes(4096));
    TestClient client = open(first, "ops");
    String value = "v".repeat(100);
    for (int i = 0; i < 200; i++) {
      client.put("k/" + (i % 50), value + i);
    }
    for (int i = 0; i < 10; i++) {
      client.ack(TestClient.kvDelete("k/" + i, false)).block(TIMEOUT);
    }
    List<KvEntry> before =
        client.ack(TestClient.kvList("")).block(TIMEOUT).getKvList().getEntriesList();
    client.close();
    first.closeNow(TIMEOUT);

    assertThat(dir.resolve("snapshot")).exists();
    assertThat(Files.size(dir.resolve("log")))
        .as("200 puts of over 100 bytes each, then a snapshot every 4 KiB of log")
        .isLessThan(8192);

    NameServer second = start(b -> b.dataDirectory(dir).snapshotLogBytes(4096));
    TestClient again = open(second, "ops");
    List<KvEntry> after =
        again.ack(TestClient.kvList("")).block(TIMEOUT).getKvList().getEntriesList();

    assertThat(after).hasSize(40).isEqualTo(before);
  }

  @Test
  void resumeSessionIdOpensANewSessionOnTheEmbeddedStore() {
    NameServer server = start();
    TestClient first = open(server, "game");
    first.register("game.zone1.lobby/1", "127.0.0.1:7001").block(TIMEOUT);
    TestClient second = connect(server);

    SessionOpened opened =
        second
            .ack(
                NameClientFrame.newBuilder()
                    .setOpenSession(
                        OpenSession.newBuilder()
                            .setProtocolVersion(1)
                            .setAppId("game")
                            .setResumeSessionId("no-such-session")))
            .block(TIMEOUT)
            .getSessionOpened();

    assertThat(opened.getResumed()).isFalse();
    assertThat(opened.getSessionId()).isNotEmpty().isNotEqualTo("no-such-session");
  }

  @Test
  void answersHeldForTheLogKeepTheirOrderAndReadsSeeEarlierWrites() {
    NameServer server = startOn(dir);
    TestClient client = open(server, "ops");
    int requests = 60;

    List<Ack> acks =
        Flux.range(0, requests)
            .flatMapSequential(
                i ->
                    client.ack(i % 2 == 0 ? TestClient.kvPut("k", "v" + i) : TestClient.kvGet("k")),
                requests)
            .collectList()
            .block(TIMEOUT);
    List<Long> arrival =
        client
            .frames()
            .filter(NameServerFrame::hasAck)
            .map(frame -> frame.getAck().getRequestId())
            .take(requests + 1)
            .collectList()
            .block(TIMEOUT);

    assertThat(arrival).as("answers leave in request order").isSorted().doesNotHaveDuplicates();
    for (int i = 1; i < requests; i += 2) {
      assertThat(acks.get(i).getKvGet().getEntry().getValue().toStringUtf8())
          .isEqualTo("v" + (i - 1));
    }
  }

  @Test
  void oneServerPerDataDirectory() {
    startOn(dir);

    assertThatThrownBy(() -> startOn(dir))
        .hasMessageContaining(dir.toString())
        .hasMessageContaining("another name server is using it");
  }
}

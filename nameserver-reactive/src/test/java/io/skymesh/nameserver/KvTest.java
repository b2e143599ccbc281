package io.skymesh.nameserver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.skymesh.proto.Ack;
import io.skymesh.proto.KvEntry;
import io.skymesh.proto.KvGetResult;
import io.skymesh.proto.KvWatchEvent;
import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.Status;
import io.skymesh.proto.StatusCode;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.util.function.Tuple2;

/** KV config: reads, writes, deletes, compare-and-set, limits, and watches that resume. */
class KvTest extends NameServerTestSupport {

  private static List<String> keys(TestClient client, String prefix) {
    return client
        .ack(TestClient.kvList(prefix))
        .block(TIMEOUT)
        .getKvList()
        .getEntriesList()
        .stream()
        .map(KvEntry::getKey)
        .toList();
  }

  private static long deleted(TestClient client, String key, boolean prefix) {
    return client.ack(TestClient.kvDelete(key, prefix)).block(TIMEOUT).getCount();
  }

  @Test
  void putGetAndListWithRevisions() {
    NameServer server = start();
    TestClient client = open(server, "ops");

    long first = client.put("config/b", "1");
    long second = client.put("config/a", "x");
    long third = client.put("config/b", "2");
    KvGetResult b = client.get("config/b");
    KvGetResult missing = client.get("config/zzz");

    assertThat(second).isEqualTo(first + 1);
    assertThat(third).isEqualTo(server.revision());
    assertThat(b.getFound()).isTrue();
    assertThat(b.getEntry().getValue().toStringUtf8()).isEqualTo("2");
    assertThat(b.getEntry().getCreateRevision()).isEqualTo(first);
    assertThat(b.getEntry().getModRevision()).isEqualTo(third);
    assertThat(missing.getFound()).isFalse();
    assertThat(missing.hasEntry()).isFalse();
    assertThat(keys(client, "")).containsExactly("config/a", "config/b");
    assertThat(keys(client, "config/a")).containsExactly("config/a");
    assertThat(keys(client, "nothing")).isEmpty();
  }

  @Test
  void deleteOfOneKeyLeavesTheKeysItPrefixes() {
    NameServer server = start();
    TestClient client = open(server, "ops");
    client.put("a", "1");
    client.put("ab", "2");
    client.put("abc", "3");
    client.put("b", "4");

    assertThat(deleted(client, "a", false)).isEqualTo(1);
    assertThat(client.get("ab").getFound()).isTrue();
    assertThat(keys(client, "")).containsExactly("ab", "abc", "b");
    long revision = server.revision();
    assertThat(deleted(client, "a", false)).isZero();
    assertThat(server.revision()).as("deleting a missing key changes nothing").isEqualTo(revision);

    assertThat(deleted(client, "ab", true)).isEqualTo(2);
    assertThat(keys(client, "")).containsExactly("b");
    assertThat(deleted(client, "", true)).isEqualTo(1);
    assertThat(keys(client, "")).isEmpty();
  }

  @Test
  void oversizedValueIsRefusedNamingItsSizeAndTheLimit() {
    NameServer server = start(b -> b.maxValueSize(1024));
    TestClient client = open(server, "ops");

    Status refused = client.error(TestClient.kvPut("big", "x".repeat(1025))).block(TIMEOUT);
    client.put("fits", "x".repeat(1024));

    assertThat(refused.getCode()).isEqualTo(StatusCode.INVALID_ARGUMENT);
    assertThat(refused.getMessage())
        .contains("\"big\"")
        .contains("1025 bytes")
        .contains("maximum value size of 1024 bytes");
    assertThat(client.get("big").getFound()).isFalse();
    assertThat(client.get("fits").getEntry().getValue().size()).isEqualTo(1024);
  }

  @Test
  void badKeysAreInvalidArguments() {
    NameServer server = start();
    TestClient client = open(server, "ops");

    Status empty = client.error(TestClient.kvPut("", "v")).block(TIMEOUT);
    Status emptyGet = client.error(TestClient.kvGet("")).block(TIMEOUT);
    Status tooLong = client.error(TestClient.kvPut("k".repeat(1025), "v")).block(TIMEOUT);
    Status casOnPrefix =
        client
            .error(
                TestClient.kvDelete("a", true)
                    .setKvDelete(
                        io.skymesh.proto.KvDelete.newBuilder()
                            .setKey("a")
                            .setPrefix(true)
                            .setExpectedModRevision(3)))
            .block(TIMEOUT);

    assertThat(empty.getCode()).isEqualTo(StatusCode.INVALID_ARGUMENT);
    assertThat(empty.getMessage()).contains("the key is empty");
    assertThat(emptyGet.getCode()).isEqualTo(StatusCode.INVALID_ARGUMENT);
    assertThat(tooLong.getMessage()).contains("1025 characters").contains("at most 1024");
    assertThat(casOnPrefix.getCode()).isEqualTo(StatusCode.INVALID_ARGUMENT);
  }

  @Test
  void compareAndSetByModRevision() {
    NameServer server = start();
    TestClient client = open(server, "ops");

    long created = client.ack(TestClient.kvPut("lock", "a", 0)).block(TIMEOUT).getRevision();
    Status exists = client.error(TestClient.kvPut("lock", "b", 0)).block(TIMEOUT);
    Status stale = client.error(TestClient.kvPut("lock", "b", created - 1)).block(TIMEOUT);
    long updated = client.ack(TestClient.kvPut("lock", "b", created)).block(TIMEOUT).getRevision();
    Status staleDelete =
        client
            .error(
                TestClient.kvDelete("lock", false)
                    .setKvDelete(
                        io.skymesh.proto.KvDelete.newBuilder()
                            .setKey("lock")
                            .setExpectedModRevision(created)))
            .block(TIMEOUT);
    Ack delete =
        client
            .ack(
                TestClient.kvDelete("lock", false)
                    .setKvDelete(
                        io.skymesh.proto.KvDelete.newBuilder()
                            .setKey("lock")
                            .setExpectedModRevision(updated)))
            .block(TIMEOUT);

    assertThat(exists.getCode()).isEqualTo(StatusCode.FAILED_PRECONDITION);
    assertThat(exists.getMessage())
        .contains("expected mod_revision 0 (absent)")
        .contains("has mod_revision " + created);
    assertThat(stale.getCode()).isEqualTo(StatusCode.FAILED_PRECONDITION);
    assertThat(client.get("lock").getFound()).isFalse();
    assertThat(staleDelete.getCode()).isEqualTo(StatusCode.FAILED_PRECONDITION);
    assertThat(delete.getCount()).isEqualTo(1);
  }

  @Test
  void compareAndSetRaceHasExactlyOneWinner() {
    NameServer server = start();
    TestClient a = open(server, "ops");
    TestClient b = open(server, "ops");
    long expected = a.put("counter", "0");

    for (int round = 1; round <= 50; round++) {
      Tuple2<NameServerFrame, NameServerFrame> answers =
          Mono.zip(
                  a.call(TestClient.kvPut("counter", "a" + round, expected)),
                  b.call(TestClient.kvPut("counter", "b" + round, expected)))
              .block(TIMEOUT);
      List<NameServerFrame> both = List.of(answers.getT1(), answers.getT2());
      assertThat(both).filteredOn(NameServerFrame::hasAck).hasSize(1);
      assertThat(both)
          .filteredOn(NameServerFrame::hasError)
          .singleElement()
          .satisfies(
              f ->
                  assertThat(f.getError().getStatus().getCode())
                      .isEqualTo(StatusCode.FAILED_PRECONDITION));
      NameServerFrame winner = both.stream().filter(NameServerFrame::hasAck).findFirst().get();
      KvEntry now = a.get("counter").getEntry();
      assertThat(now.getModRevision()).isEqualTo(winner.getAck().getRevision());
      assertThat(now.getValue().toStringUtf8())
          .isEqualTo((winner == answers.getT1() ? "a" : "b") + round);
      expected = now.getModRevision();
    }
  }

  @Test
  void watchThatResumesFromItsLastRevisionMissesNothing() {
    NameServer server = start();
    TestClient writer = open(server, "game");
    TestClient first = open(server, "ops");
    List<KvWatchEvent> before = new CopyOnWriteArrayList<>();
    first.ack(TestClient.kvWatch(1, "config/", 0)).block(TIMEOUT);
    first.kvEvents(1).subscribe(before::add);

    long midway = changes(writer, 0, 60);
    await().atMost(TIMEOUT).until(() -> last(before) == midway);
    first.close();
    long lastSeen = last(before);
    long end = changes(writer, 60, 120);

    TestClient second = open(server, "ops");
    second.ack(TestClient.kvWatch(2, "config/", lastSeen)).block(TIMEOUT);
    List<KvWatchEvent> after =
        second.kvEvents(2).takeUntil(e -> e.getRevision() == end).collectList().block(TIMEOUT);

    assertThat(before.get(0).hasSnapshot()).isTrue();
    assertThat(after).noneMatch(KvWatchEvent::hasSnapshot);
    // Revisions strictly increase across both watches: nothing repeated, nothing out of order.
    List<Long> revisions =
        java.util.stream.Stream.concat(before.stream().skip(1), after.stream())
            .map(KvWatchEvent::getRevision)
            .toList();
    assertThat(revisions).isSorted().doesNotHaveDuplicates();
    // 120 rounds each make 1 put or delete under config/ (plus a change elsewhere).
    assertThat(revisions).hasSize(120);
    Map<String, String> view = new TreeMap<>();
    before.forEach(e -> apply(view, e));
    after.forEach(e -> apply(view, e));
    assertThat(view).isEqualTo(truth(writer, "config/"));
  }

  @Test
  void resumeFromACompactedRevisionStartsWithAResyncSnapshot() {
    NameServer server = start(b -> b.historyLimit(4));
    TestClient writer = open(server, "ops");
    writer.put("config/a", "1");
    long lastSeen = server.revision();
    for (int i = 0; i < 10; i++) {
      writer.put("config/k" + i, "v" + i);
    }
    writer.ack(TestClient.kvDelete("config/k3", false)).block(TIMEOUT);
    long now = server.revision();

    TestClient watcher = open(server, "ops");
    watcher.ack(TestClient.kvWatch(3, "config/", lastSeen)).block(TIMEOUT);
    KvWatchEvent first = watcher.kvEvents(3).blockFirst(TIMEOUT);

    assertThat(first.getSnapshot().getResync()).isTrue();
    assertThat(first.getRevision()).isEqualTo(now);
    Map<String, String> view = new TreeMap<>();
    apply(view, first);
    assertThat(view).isEqualTo(truth(writer, "config/"));
    assertThat(view).doesNotContainKey("config/k3").containsKey("config/a");
  }

  @Test
  void historyIsBoundedInBytesSoLargeValuesResyncInsteadOfFillingTheHeap() {
    NameServer server = start(b -> b.historyBytesLimit(3L << 20));
    TestClient writer = open(server, "ops");
    String large = "x".repeat((1 << 20) - 1024);
    long beforeAll = writer.put("small", "1");
    long sixth = 0;
    for (int i = 1; i <= 8; i++) {
      long revision = writer.put("big/" + i, large);
      if (i == 6) {
        sixth = revision;
      }
    }

    TestClient watcher = open(server, "ops");
    watcher.ack(TestClient.kvWatch(1, "big/", beforeAll)).block(TIMEOUT);
    watcher.ack(TestClient.kvWatch(2, "big/", sixth)).block(TIMEOUT);
    KvWatchEvent compacted = watcher.kvEvents(1).blockFirst(TIMEOUT);
    List<KvWatchEvent> replayed = watcher.kvEvents(2).take(2).collectList().block(TIMEOUT);

    assertThat(compacted.getSnapshot().getResync()).isTrue();
    assertThat(compacted.getSnapshot().getEntriesCount()).isEqualTo(8);
    assertThat(replayed).extracting(e -> e.getPut().getKey()).containsExactly("big/7", "big/8");
  }

  @Test
  void kvAndInstanceWatchesShareTheWatchIdSpace() {
    NameServer server = start();
    TestClient client = open(server, "ops");
    client.watchPrefix(1, "", 0).block(TIMEOUT);

    Status clash = client.error(TestClient.kvWatch(1, "", 0)).block(TIMEOUT);

    assertThat(clash.getCode()).isEqualTo(StatusCode.ALREADY_EXISTS);
  }

  @Test
  void slowKvWatcherIsBoundedThenResyncedToTheTrueState() {
    int queueLimit = 64;
    NameServer server = start(b -> b.watcherQueueLimit(queueLimit));
    TestClient writer = open(server, "ops");
    TestClient watcher = track(TestClient.connect(server.port(), 4096));
    watcher.openSession("ops", 30_000).block(TIMEOUT);
    watcher.ack(TestClient.kvWatch(1, "bulk/", 0)).block(TIMEOUT);
    List<KvWatchEvent> seen = new CopyOnWriteArrayList<>();
    watcher.kvEvents(1).subscribe(seen::add);
    await().atMost(TIMEOUT).until(() -> !seen.isEmpty());

    watcher.pauseReading();
    String bulk = "x".repeat(2048);
    int puts = 0;
    while (server.metrics().resyncs() == 0 && puts < 40_000) {
      Flux.range(puts, 500)
          .flatMap(i -> writer.ack(TestClient.kvPut("bulk/" + (i % 50), bulk + i)), 16)
          .blockLast(TIMEOUT);
      puts += 500;
    }
    long paused = server.revision();
    assertThat(server.metrics().resyncs()).isPositive();
    assertThat(server.metrics().peakQueuedFrames()).isLessThanOrEqualTo(queueLimit);

    watcher.resumeReading();
    await().atMost(TIMEOUT).until(() -> last(seen) == paused);

    assertThat(seen).anyMatch(e -> e.hasSnapshot() && e.getSnapshot().getResync());
    assertThat(seen.size()).isLessThan(puts);
    Map<String, String> view = new TreeMap<>();
    seen.forEach(e -> apply(view, e));
    assertThat(view).isEqualTo(truth(writer, "bulk/")).hasSize(50);
  }

  /**
   * Round i: a put or a delete under config/, then a change elsewhere (other key, instance).
   * Returns the revision of the last change under config/.
   */
  private static long changes(TestClient writer, int from, int to) {
    long last = 0;
    for (int i = from; i < to; i++) {
      String key = "config/k" + (i % 7);
      if (i % 5 == 4 && writer.get(key).getFound()) {
        last = writer.ack(TestClient.kvDelete(key, false)).block(TIMEOUT).getRevision();
      } else {
        last = writer.put(key, "v" + i);
      }
      if (i % 2 == 0) {
        writer.put("other/k" + i, "x");
      } else {
        writer.register("game.zone1.svc/" + i, "127.0.0.1:7000").block(TIMEOUT);
      }
    }
    return last;
  }

  private static long last(List<KvWatchEvent> events) {
    return events.isEmpty() ? 0 : events.get(events.size() - 1).getRevision();
  }

  private static void apply(Map<String, String> view, KvWatchEvent event) {
    switch (event.getEventCase()) {
      case SNAPSHOT -> {
        view.clear();
        event
            .getSnapshot()
            .getEntriesList()
            .forEach(e -> view.put(e.getKey(), e.getValue().toStringUtf8()));
      }
      case PUT -> view.put(event.getPut().getKey(), event.getPut().getValue().toStringUtf8());
      case DELETED_KEY -> view.remove(event.getDeletedKey());
      default -> throw new AssertionError("unexpected event " + event);
    }
  }

  private static Map<String, String> truth(TestClient client, String prefix) {
    Map<String, String> truth = new TreeMap<>();
    client
        .ack(TestClient.kvList(prefix))
        .block(TIMEOUT)
        .getKvList()
        .getEntriesList()
        .forEach(e -> truth.put(e.getKey(), e.getValue().toStringUtf8()));
    return truth;
  }
}

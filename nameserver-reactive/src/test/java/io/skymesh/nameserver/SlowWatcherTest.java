package io.skymesh.nameserver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.skymesh.proto.Ack;
import io.skymesh.proto.WatchEvent;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;

/** A watcher that stops reading costs the server a bounded queue, and is resynced when it reads. */
class SlowWatcherTest extends NameServerTestSupport {

  private static final int QUEUE_LIMIT = 64;
  private static final String SERVICE = "game.zone1.big";
  private static final int INSTANCES = 20;

  /** Large attribute values fill the socket buffers quickly. */
  private static final String BULK = "x".repeat(2048);

  @Test
  void slowWatcherIsBoundedThenResyncedToTheTrueState() {
    NameServer server = start(b -> b.watcherQueueLimit(QUEUE_LIMIT));
    TestClient writer = open(server, "game");
    for (int i = 0; i < INSTANCES; i++) {
      writer.register(SERVICE + "/" + i, "127.0.0.1:" + (7000 + i)).block(TIMEOUT);
    }
    TestClient watcher = track(TestClient.connect(server.port(), 4096));
    watcher.openSession("game", 30_000).block(TIMEOUT);
    watcher.watchService(1, SERVICE, 0).block(TIMEOUT);
    List<WatchEvent> seen = new CopyOnWriteArrayList<>();
    watcher.events(1).subscribe(seen::add);
    await().atMost(TIMEOUT).until(() -> !seen.isEmpty());

    watcher.pauseReading();
    int changes = 0;
    while (server.metrics().resyncs() == 0 && changes < 40_000) {
      changeAttributes(writer, changes, 500);
      changes += 500;
    }
    // Keep going well past the overflow: the watch no longer queues anything.
    changeAttributes(writer, changes, 2000);
    changes += 2000;

    await().atMost(TIMEOUT).until(() -> server.metrics().revision() == server.revision());
    NameServerMetrics metrics = server.metrics();
    assertThat(metrics.resyncs()).as("the watcher overflowed").isPositive();
    assertThat(metrics.peakQueuedFrames()).isLessThanOrEqualTo(QUEUE_LIMIT);
    assertThat(metrics.queuedFrames()).isLessThanOrEqualTo(QUEUE_LIMIT);
    long revisionWhilePaused = server.revision();
    assertThat(seen.size()).isLessThan(changes);

    watcher.resumeReading();
    await()
        .atMost(TIMEOUT)
        .until(() -> !seen.isEmpty() && last(seen).getRevision() == revisionWhilePaused);

    // The latest snapshot is a resync (taken when the watcher caught up, or shortly before the
    // writer stopped); with the live events after it, it gives exactly the true state.
    WatchEvent resync = lastSnapshot(seen);
    assertThat(resync.getSnapshot().getResync()).isTrue();
    assertThat(resync.getRevision()).isGreaterThan(seen.get(0).getRevision());
    View view = new View();
    seen.forEach(view::apply);
    assertThat(view.instances).isEqualTo(WatchResumeTest.truth(server, SERVICE));
    assertThat(view.instances).hasSize(INSTANCES);
    assertRevisionsIncrease(seen);

    // Then live events again.
    Ack live =
        writer
            .ack(TestClient.setAttributes(SERVICE + "/3", Map.of("live", "1"), true))
            .block(TIMEOUT);
    await().atMost(TIMEOUT).until(() -> last(seen).getRevision() == live.getRevision());
    assertThat(last(seen).getInstanceUpdated().getAttributesMap()).containsEntry("live", "1");
    assertThat(server.metrics().peakQueuedFrames()).isLessThanOrEqualTo(QUEUE_LIMIT);
  }

  /** Pipelined attribute changes, 16 in flight, each answered. */
  private static void changeAttributes(TestClient writer, int first, int count) {
    Flux.range(first, count)
        .flatMap(
            i ->
                writer.ack(
                    TestClient.setAttributes(
                        SERVICE + "/" + (i % INSTANCES), Map.of("bulk", BULK, "i", "" + i), true)),
            16)
        .blockLast(TIMEOUT);
  }

  /** Strictly increasing revisions, except that a snapshot may repeat the last one. */
  private static void assertRevisionsIncrease(List<WatchEvent> events) {
    for (int i = 1; i < events.size(); i++) {
      long previous = events.get(i - 1).getRevision();
      WatchEvent event = events.get(i);
      if (event.hasSnapshot()) {
        assertThat(event.getRevision()).as("snapshot %s", i).isGreaterThanOrEqualTo(previous);
      } else {
        assertThat(event.getRevision()).as("event %s", i).isGreaterThan(previous);
      }
    }
  }

  private static WatchEvent last(List<WatchEvent> events) {
    return events.get(events.size() - 1);
  }

  private static WatchEvent lastSnapshot(List<WatchEvent> events) {
    for (int i = events.size() - 1; i >= 0; i--) {
      if (events.get(i).hasSnapshot()) {
        return events.get(i);
      }
    }
    throw new AssertionError("no snapshot");
  }
}

package io.skymesh.nameserver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.skymesh.proto.Ack;
import io.skymesh.proto.Deregister;
import io.skymesh.proto.Instance;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.WatchEvent;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.test.StepVerifier;

/** Watches that resume from a revision: from history, or by a resync snapshot. */
class WatchResumeTest extends NameServerTestSupport {

  private static final String PREFIX = "game.zone1.";

  @Test
  void resumedWatchContinuesWithoutGapsOrDuplicates() {
    NameServer server = start();
    TestClient writer = open(server, "game");
    TestClient first = open(server, "game");
    List<WatchEvent> before = new CopyOnWriteArrayList<>();
    first.watchPrefix(1, PREFIX, 0).block(TIMEOUT);
    first.events(1).subscribe(before::add);

    changes(writer, 0, 100);
    await().atMost(TIMEOUT).until(() -> last(before).getRevision() == server.revision());
    first.close();
    long lastSeen = last(before).getRevision();
    changes(writer, 100, 200);
    long end = server.revision();

    TestClient second = open(server, "game");
    Ack resumed = second.watchPrefix(7, PREFIX, lastSeen).block(TIMEOUT);
    List<WatchEvent> after =
        second.events(7).takeUntil(e -> e.getRevision() == end).collectList().block(TIMEOUT);

    assertThat(resumed.getRevision()).isEqualTo(end);
    assertThat(after).noneMatch(WatchEvent::hasSnapshot);
    assertThat(before.get(0).hasSnapshot()).isTrue();
    List<Long> revisions =
        Flux.concat(Flux.fromIterable(before).skip(1), Flux.fromIterable(after))
            .map(WatchEvent::getRevision)
            .collectList()
            .block(TIMEOUT);
    // Every change was under the prefix, so every revision appears exactly once, in order.
    assertThat(revisions)
        .isEqualTo(Flux.range(1, (int) end).map(Integer::longValue).collectList().block(TIMEOUT));
    View view = new View();
    before.forEach(view::apply);
    after.forEach(view::apply);
    assertThat(view.instances).isEqualTo(truth(server, PREFIX));
  }

  @Test
  void resumeFromACompactedRevisionStartsWithAResyncSnapshot() {
    NameServer server = start(b -> b.historyLimit(4));
    TestClient writer = open(server, "game");
    changes(writer, 0, 5);
    long lastSeen = server.revision();
    changes(writer, 5, 20);
    long now = server.revision();

    Map<String, Instance> truth = truth(server, PREFIX);
    TestClient watcher = open(server, "game");
    watcher.watchPrefix(3, PREFIX, lastSeen).block(TIMEOUT);

    // Assertions may run on an event loop: nothing in them may block.
    StepVerifier.create(watcher.events(3).next())
        .assertNext(
            event -> {
              assertThat(event.getSnapshot().getResync()).isTrue();
              assertThat(event.getRevision()).isEqualTo(now);
              View view = new View();
              view.apply(event);
              assertThat(view.instances).isEqualTo(truth);
            })
        .expectComplete()
        .verify(TIMEOUT);
    Ack live = writer.register("game.zone1.late/1", "127.0.0.1:9000").block(TIMEOUT);
    StepVerifier.create(watcher.events(3).skip(1).next())
        .assertNext(
            event -> {
              assertThat(event.getRevision()).isEqualTo(live.getRevision()).isEqualTo(now + 1);
              assertThat(event.getInstanceAdded().getUrl()).isEqualTo("game.zone1.late/1");
            })
        .expectComplete()
        .verify(TIMEOUT);
  }

  @Test
  void resumeWithinTheHistoryOfATinyServerStillReplays() {
    NameServer server = start(b -> b.historyLimit(4));
    TestClient writer = open(server, "game");
    changes(writer, 0, 10);
    long lastSeen = server.revision() - 4;

    TestClient watcher = open(server, "game");
    watcher.watchPrefix(3, PREFIX, lastSeen).block(TIMEOUT);

    StepVerifier.create(watcher.events(3).take(4).map(WatchEvent::getRevision))
        .expectNext(lastSeen + 1, lastSeen + 2, lastSeen + 3, lastSeen + 4)
        .expectComplete()
        .verify(TIMEOUT);
  }

  @Test
  void revisionsOfARestartedServerNeverRepeatThoseOfItsPredecessor() {
    long before = System.currentTimeMillis() * 1000;
    NameServer first = NameServer.builder().start().block(TIMEOUT);
    assertThat(first.revision()).isGreaterThanOrEqualTo(before);
    TestClient writer = track(TestClient.open(first.port(), "game"));
    changes(writer, 0, 10);
    long lastSeen = first.revision();
    first.closeNow(TIMEOUT);

    NameServer second = NameServer.builder().start().block(TIMEOUT);
    try {
      TestClient again = track(TestClient.open(second.port(), "game"));
      changes(again, 0, 3);
      assertThat(second.revision()).isGreaterThan(lastSeen);
      again.watchPrefix(1, PREFIX, lastSeen).block(TIMEOUT);

      // The old revision is not in the new server's history: a resync, not a wrong replay.
      StepVerifier.create(again.events(1).next())
          .assertNext(
              event -> {
                assertThat(event.getSnapshot().getResync()).isTrue();
                assertThat(event.getRevision()).isEqualTo(second.revision());
                assertThat(event.getSnapshot().getInstancesCount()).isEqualTo(3);
              })
          .expectComplete()
          .verify(TIMEOUT);
    } finally {
      second.closeNow(TIMEOUT);
    }
  }

  @Test
  void resumeFromTheFutureStartsWithAResyncSnapshot() {
    NameServer server = start();
    TestClient writer = open(server, "game");
    changes(writer, 0, 3);

    TestClient watcher = open(server, "game");
    watcher.watchPrefix(3, PREFIX, server.revision() + 100).block(TIMEOUT);

    StepVerifier.create(watcher.events(3).next())
        .assertNext(
            event -> {
              assertThat(event.getSnapshot().getResync()).isTrue();
              assertThat(event.getRevision()).isEqualTo(server.revision());
            })
        .expectComplete()
        .verify(TIMEOUT);
  }

  @Test
  void resumeFromTheCurrentRevisionSendsOnlyLaterChanges() {
    NameServer server = start();
    TestClient writer = open(server, "game");
    changes(writer, 0, 3);
    long now = server.revision();

    TestClient watcher = open(server, "game");
    watcher.watchService(3, "game.zone1.s0", now).block(TIMEOUT);
    writer.register("game.zone1.s0/99", "127.0.0.1:9000").block(TIMEOUT);

    StepVerifier.create(watcher.events(3).next())
        .assertNext(
            event -> {
              assertThat(event.getRevision()).isEqualTo(now + 1);
              assertThat(event.getInstanceAdded().getUrl()).isEqualTo("game.zone1.s0/99");
            })
        .expectComplete()
        .verify(TIMEOUT);
  }

  @Test
  void resumedServiceWatchSkipsChangesOfOtherServices() {
    NameServer server = start();
    TestClient writer = open(server, "game");
    changes(writer, 0, 30);
    long end = writer.register("game.zone1.s1/99", "127.0.0.1:9000").block(TIMEOUT).getRevision();

    TestClient watcher = open(server, "game");
    watcher.watchService(3, "game.zone1.s1", 1).block(TIMEOUT);
    List<WatchEvent> events =
        watcher.events(3).takeUntil(e -> e.getRevision() == end).collectList().block(TIMEOUT);

    assertThat(events)
        .allSatisfy(
            e ->
                assertThat(
                        e.hasInstanceRemoved()
                            ? e.getInstanceRemoved().getUrl()
                            : e.hasInstanceAdded()
                                ? e.getInstanceAdded().getUrl()
                                : e.getInstanceUpdated().getUrl())
                    .startsWith("game.zone1.s1/"));
    assertThat(events).extracting(WatchEvent::getRevision).isSorted().doesNotHaveDuplicates();
    assertThat(events.size()).isGreaterThan(5).isLessThan(20);
  }

  /**
   * Makes changes {@code from..to-1} from {@code writer}'s session, each answered before the next:
   * registrations, attribute changes and deregistrations over three services under {@link #PREFIX}.
   * Whether a url is held is read from the server's answers, so steps are deterministic.
   */
  static void changes(TestClient writer, int from, int to) {
    for (int i = from; i < to; i++) {
      String url = PREFIX + "s" + (i % 3) + "/" + (i % 5);
      NameClientFrame.Builder step =
          i % 2 == 0
              ? TestClient.setAttributes(url, Map.of("i", "" + i), true)
              : NameClientFrame.newBuilder().setDeregister(Deregister.newBuilder().setUrl(url));
      NameServerFrame answer = writer.call(step).block(TIMEOUT);
      if (answer.hasError()) {
        // Not held yet: register it instead.
        writer.ack(TestClient.register(url, "127.0.0.1:" + (7000 + i), Map.of())).block(TIMEOUT);
      }
    }
  }

  /** The current instances under a prefix, as a fresh watch's snapshot gives them. */
  static Map<String, Instance> truth(NameServer server, String prefix) {
    try (TestClient fresh = TestClient.open(server.port(), "check")) {
      fresh.watchPrefix(1, prefix, 0).block(TIMEOUT);
      View view = new View();
      view.apply(fresh.events(1).blockFirst(TIMEOUT));
      return view.instances;
    }
  }

  private static WatchEvent last(List<WatchEvent> events) {
    return events.isEmpty() ? WatchEvent.getDefaultInstance() : events.get(events.size() - 1);
  }
}

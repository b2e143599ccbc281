package io.skymesh.nameserver;

import static org.assertj.core.api.Assertions.assertThat;

import io.skymesh.nameserver.NameServerTestSupport.View;
import io.skymesh.proto.WatchEvent;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.test.StepVerifier;

/**
 * Many watchers on connections of their own see every change of a burst, each once and in order:
 * the writer hands each event loop its connections' frames in batches, several frames per
 * connection at a time.
 */
class FanOutTest extends NameServerTestSupport {

  private static final String SERVICE = "game.zone1.fan";
  private static final int WATCHERS = 40;
  private static final int ADDED = 120;
  private static final int REMOVED = 50;

  @Test
  void everyWatcherSeesEveryChangeOfABurstOnceAndInOrder() {
    NameServer server = start();
    List<TestClient> watchers = new ArrayList<>();
    for (int i = 0; i < WATCHERS; i++) {
      TestClient watcher = open(server, "watcher" + i);
      watcher.watchService(1 + i, SERVICE, 0).block(TIMEOUT);
      watchers.add(watcher);
    }
    TestClient service = open(server, "game");

    // Pipelined, so the writer queues many changes, and many frames per connection, at once.
    Flux.range(0, ADDED)
        .flatMap(i -> service.register(SERVICE + "/" + i, "127.0.0.1:" + (7000 + i)), 32)
        .blockLast(TIMEOUT);
    Flux.range(0, REMOVED)
        .flatMap(i -> service.deregister(SERVICE + "/" + i), 32)
        .blockLast(TIMEOUT);

    Set<String> left = new TreeSet<>();
    for (int i = REMOVED; i < ADDED; i++) {
      left.add(SERVICE + "/" + i);
    }
    for (int i = 0; i < WATCHERS; i++) {
      View view = new View();
      List<Long> revisions = new ArrayList<>();
      StepVerifier.create(watchers.get(i).events(1 + i).take(1 + ADDED + REMOVED))
          .recordWith(ArrayList::new)
          .thenConsumeWhile(event -> true)
          .consumeRecordedWith(
              events -> {
                for (WatchEvent event : events) {
                  view.apply(event);
                  if (!event.hasSnapshot()) {
                    revisions.add(event.getRevision());
                  }
                }
              })
          .expectComplete()
          .verify(TIMEOUT);
      assertThat(view.snapshots).as("watcher %d's snapshots", i).isEqualTo(1);
      assertThat(view.resyncs).isZero();
      assertThat(revisions)
          .as("watcher %d's revisions", i)
          .hasSize(ADDED + REMOVED)
          .isSorted()
          .doesNotHaveDuplicates();
      assertThat(view.instances.keySet()).as("watcher %d's view", i).isEqualTo(left);
    }
  }
}

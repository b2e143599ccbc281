package io.skymesh.nameserver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.skymesh.proto.Leader;
import io.skymesh.proto.WatchEvent;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * Election under churn over real TCP: five candidates, each in its own session; the leader's
 * connection is killed twenty times in a row and a replacement candidate joins each time.
 */
class ElectionChurnTest extends NameServerTestSupport {

  private static final String SERVICE = "game.zone1.lobby";
  private static final Duration TTL = Duration.ofSeconds(2);
  private static final int CANDIDATES = 5;
  private static final int KILLS = 20;

  @Test
  void everyWatcherSeesOneLeaderAtATimeWithStrictlyGrowingTerms() {
    NameServer server = start(b -> b.sessionTtl(TTL));
    List<List<WatchEvent>> watchers = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      TestClient watcher = open(server, "game").keepAliveEvery(TTL.dividedBy(4));
      List<WatchEvent> events = new CopyOnWriteArrayList<>();
      if (i == 1) {
        watcher.watchPrefix(1, "game.", 0).block(TIMEOUT);
      } else {
        watcher.watchService(1, SERVICE, 0).block(TIMEOUT);
      }
      watcher.events(1).subscribe(events::add);
      watchers.add(events);
    }
    List<WatchEvent> reference = watchers.get(0);

    Map<String, TestClient> byUrl = new HashMap<>();
    int nextId = 0;
    for (; nextId < CANDIDATES; nextId++) {
      join(server, byUrl, nextId);
    }
    await().atMost(TIMEOUT).until(() -> currentLeader(reference) != null);

    for (int kill = 0; kill < KILLS; kill++) {
      Leader leader = currentLeader(reference);
      TestClient victim = byUrl.remove(leader.getLeaderUrl());
      long killedAt = System.nanoTime();
      // Cut the TCP connection under the session, without a Deregister.
      victim.connection().channel().close();
      await()
          .atMost(TTL.plusSeconds(1))
          .until(
              () -> {
                Leader now = currentLeader(reference);
                return now != null && now.getTerm() > leader.getTerm();
              });
      assertThat(Duration.ofNanos(System.nanoTime() - killedAt)).isLessThan(TTL.plusSeconds(1));
      join(server, byUrl, nextId++);
    }

    long end = server.revision();
    for (List<WatchEvent> events : watchers) {
      await().atMost(TIMEOUT).until(() -> last(events) == end);
    }
    List<Leader> sequence = leaderSequence(reference);
    assertThat(sequence).hasSize(KILLS + 1);
    for (int i = 0; i < sequence.size(); i++) {
      // Terms grow by one at each new leader; nobody-leads never shows up, five are in line.
      assertThat(sequence.get(i).getTerm()).isEqualTo(i + 1);
      assertThat(sequence.get(i).getLeaderUrl()).isEqualTo(SERVICE + "/" + i);
    }
    for (List<WatchEvent> events : watchers) {
      assertThat(leaderEvents(events)).isEqualTo(leaderEvents(reference));
      assertOneLiveLeaderAtEveryRevision(events);
    }
  }

  private void join(NameServer server, Map<String, TestClient> byUrl, int id) {
    TestClient client = open(server, "game").keepAliveEvery(TTL.dividedBy(4));
    String url = SERVICE + "/" + id;
    client.register(url, "127.0.0.1:" + (7000 + id)).block(TIMEOUT);
    client.ack(TestClient.campaign(url)).block(TIMEOUT);
    byUrl.put(url, client);
  }

  private static long last(List<WatchEvent> events) {
    return events.isEmpty() ? 0 : events.get(events.size() - 1).getRevision();
  }

  private static Leader currentLeader(List<WatchEvent> events) {
    View view = new View();
    events.forEach(view::apply);
    Leader leader = view.leaders.get(SERVICE);
    return leader == null || leader.getLeaderUrl().isEmpty() ? null : leader;
  }

  private static List<Leader> leaderSequence(List<WatchEvent> events) {
    return events.stream()
        .filter(WatchEvent::hasLeaderChanged)
        .map(WatchEvent::getLeaderChanged)
        .toList();
  }

  /** Leader events with their revisions, so that watchers can be compared. */
  private static List<String> leaderEvents(List<WatchEvent> events) {
    return events.stream()
        .filter(WatchEvent::hasLeaderChanged)
        .map(
            e ->
                e.getRevision()
                    + ":"
                    + e.getLeaderChanged().getLeaderUrl()
                    + "@"
                    + e.getLeaderChanged().getTerm())
        .toList();
  }

  /**
   * Replays the watch: revisions strictly increase, so each revision has one state, and in it the
   * leader (if any) is a live instance and the earliest of the live campaigners.
   */
  private static void assertOneLiveLeaderAtEveryRevision(List<WatchEvent> events) {
    View view = new View();
    long revision = -1;
    long term = 0;
    for (WatchEvent event : events) {
      assertThat(event.getRevision()).isGreaterThan(revision);
      revision = event.getRevision();
      view.apply(event);
      Leader leader = view.leaders.get(SERVICE);
      if (leader != null) {
        assertThat(leader.getTerm()).isGreaterThanOrEqualTo(term);
        term = leader.getTerm();
        if (!leader.getLeaderUrl().isEmpty()) {
          assertThat(view.instances).containsKey(leader.getLeaderUrl());
        }
      }
    }
  }
}

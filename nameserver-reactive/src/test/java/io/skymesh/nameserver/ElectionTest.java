package io.skymesh.nameserver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.skymesh.proto.Leader;
import io.skymesh.proto.Snapshot;
import io.skymesh.proto.Status;
import io.skymesh.proto.StatusCode;
import io.skymesh.proto.WatchEvent;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** Elections: who leads, handover on resign, deregister, close and expiry, terms, snapshots. */
class ElectionTest extends NameServerTestSupport {

  private static final String SERVICE = "game.zone1.lobby";

  /** Leader events of a watch as "url@term" ("-@term" when nobody leads). */
  private static List<String> leaders(List<WatchEvent> events) {
    return events.stream()
        .filter(WatchEvent::hasLeaderChanged)
        .map(WatchEvent::getLeaderChanged)
        .map(ElectionTest::describe)
        .toList();
  }

  private static String describe(Leader leader) {
    return (leader.getLeaderUrl().isEmpty() ? "-" : leader.getLeaderUrl()) + "@" + leader.getTerm();
  }

  private TestClient candidate(NameServer server, int instance) {
    TestClient client = open(server, "game");
    client.register(SERVICE + "/" + instance, "127.0.0.1:" + (7000 + instance)).block(TIMEOUT);
    return client;
  }

  private static void campaign(TestClient client, int instance) {
    client.ack(TestClient.campaign(SERVICE + "/" + instance)).block(TIMEOUT);
  }

  private List<WatchEvent> watch(NameServer server) {
    TestClient watcher = open(server, "game");
    List<WatchEvent> events = new CopyOnWriteArrayList<>();
    watcher.watchService(1, SERVICE, 0).block(TIMEOUT);
    watcher.events(1).subscribe(events::add);
    return events;
  }

  @Test
  void earliestLiveCampaignerLeadsAndTheNextTakesOverWithTheNextTerm() {
    NameServer server = start();
    List<WatchEvent> events = watch(server);
    TestClient a = candidate(server, 1);
    TestClient b = candidate(server, 2);
    TestClient c = candidate(server, 3);
    TestClient d = candidate(server, 4);
    campaign(a, 1);
    campaign(b, 2);
    campaign(c, 3);
    campaign(d, 4);

    a.ack(TestClient.resign(SERVICE + "/1")).block(TIMEOUT);
    b.deregister(SERVICE + "/2").block(TIMEOUT);
    c.close();
    await().atMost(TIMEOUT).until(() -> leaders(events).size() == 4);
    d.close();
    await().atMost(TIMEOUT).until(() -> leaders(events).size() == 5);
    campaign(a, 1);

    await().atMost(TIMEOUT).until(() -> leaders(events).size() == 6);
    assertThat(leaders(events))
        .containsExactly(
            SERVICE + "/1@1",
            SERVICE + "/2@2",
            SERVICE + "/3@3",
            SERVICE + "/4@4",
            "-@4",
            SERVICE + "/1@5");
    // Every leader event at its own revision, in order, and the leader is always a live instance.
    View view = new View();
    long last = -1;
    for (WatchEvent event : events) {
      view.apply(event);
      assertThat(event.getRevision()).isGreaterThan(last);
      last = event.getRevision();
      Leader leader = view.leaders.get(SERVICE);
      if (leader != null && !leader.getLeaderUrl().isEmpty()) {
        assertThat(view.instances).containsKey(leader.getLeaderUrl());
      }
    }
  }

  @Test
  void leaderStopsLeadingBeforeItsInstanceIsRemoved() {
    NameServer server = start();
    List<WatchEvent> events = watch(server);
    TestClient a = candidate(server, 1);
    campaign(a, 1);
    long removed = a.deregister(SERVICE + "/1").block(TIMEOUT).getRevision();

    await().atMost(TIMEOUT).until(() -> events.size() == 5);
    // snapshot, added, leader, leader lost, removed
    assertThat(events.get(3).getLeaderChanged().getLeaderUrl()).isEmpty();
    assertThat(events.get(3).getLeaderChanged().getTerm()).isEqualTo(1);
    assertThat(events.get(4).getInstanceRemoved().getUrl()).isEqualTo(SERVICE + "/1");
    assertThat(events.get(4).getRevision()).isEqualTo(removed);
  }

  @Test
  void campaignIsIdempotentAndKeepsThePlaceInLine() {
    NameServer server = start();
    List<WatchEvent> events = watch(server);
    TestClient a = candidate(server, 1);
    TestClient b = candidate(server, 2);
    campaign(b, 2);
    campaign(a, 1);
    long revision = server.revision();
    campaign(b, 2);
    campaign(a, 1);
    assertThat(server.revision()).isEqualTo(revision);

    b.ack(TestClient.resign(SERVICE + "/2")).block(TIMEOUT);
    // Resigning twice, or without campaigning, is acknowledged and changes nothing.
    b.ack(TestClient.resign(SERVICE + "/2")).block(TIMEOUT);

    await().atMost(TIMEOUT).until(() -> leaders(events).size() == 2);
    assertThat(leaders(events)).containsExactly(SERVICE + "/2@1", SERVICE + "/1@2");
  }

  @Test
  void onlyAnInstanceOfThisSessionMayCampaign() {
    NameServer server = start();
    TestClient a = candidate(server, 1);
    TestClient other = open(server, "game");

    Status unregistered = other.error(TestClient.campaign(SERVICE + "/9")).block(TIMEOUT);
    Status someoneElses = other.error(TestClient.campaign(SERVICE + "/1")).block(TIMEOUT);
    Status badUrl = other.error(TestClient.campaign("game.zone1")).block(TIMEOUT);
    Status resignOthers = other.error(TestClient.resign(SERVICE + "/1")).block(TIMEOUT);

    assertThat(unregistered.getCode()).isEqualTo(StatusCode.NOT_FOUND);
    assertThat(unregistered.getMessage())
        .contains(SERVICE + "/9")
        .contains("only an instance this session registered may campaign");
    assertThat(someoneElses.getCode()).isEqualTo(StatusCode.NOT_FOUND);
    assertThat(someoneElses.getMessage()).contains("another session registered it");
    assertThat(badUrl.getCode()).isEqualTo(StatusCode.INVALID_ARGUMENT);
    assertThat(resignOthers.getCode()).isEqualTo(StatusCode.NOT_FOUND);
    campaign(a, 1);
  }

  @Test
  void snapshotsListTheCurrentLeadersAndPrefixWatchesSeeChanges() {
    NameServer server = start();
    TestClient a = candidate(server, 1);
    TestClient b = candidate(server, 2);
    TestClient other = open(server, "game");
    other.register("game.zone1.chat/1", "127.0.0.1:7100").block(TIMEOUT);
    campaign(a, 1);
    campaign(b, 2);
    other.ack(TestClient.campaign("game.zone1.chat/1")).block(TIMEOUT);
    other.ack(TestClient.resign("game.zone1.chat/1")).block(TIMEOUT);

    TestClient watcher = open(server, "game");
    watcher.watchService(1, SERVICE, 0).block(TIMEOUT);
    watcher.watchPrefix(2, "game.zone1.", 0).block(TIMEOUT);
    watcher.watchPrefix(3, "game.zone2.", 0).block(TIMEOUT);
    Snapshot service = watcher.events(1).blockFirst(TIMEOUT).getSnapshot();
    Snapshot prefix = watcher.events(2).blockFirst(TIMEOUT).getSnapshot();
    Snapshot none = watcher.events(3).blockFirst(TIMEOUT).getSnapshot();

    assertThat(service.getLeadersList())
        .extracting(ElectionTest::describe)
        .containsExactly(SERVICE + "/1@1");
    // The chat election has nobody leading, but it had a term: listed with an empty url.
    assertThat(prefix.getLeadersList())
        .extracting(ElectionTest::describe)
        .containsExactly("-@1", SERVICE + "/1@1");
    assertThat(none.getLeadersList()).isEmpty();

    a.ack(TestClient.resign(SERVICE + "/1")).block(TIMEOUT);
    WatchEvent change = watcher.events(2).skip(1).blockFirst(TIMEOUT);
    assertThat(describe(change.getLeaderChanged())).isEqualTo(SERVICE + "/2@2");
  }

  @Test
  void resumedWatchReplaysLeaderChangesFromHistory() {
    NameServer server = start();
    TestClient a = candidate(server, 1);
    TestClient b = candidate(server, 2);
    long from = server.revision();
    campaign(a, 1);
    campaign(b, 2);
    a.ack(TestClient.resign(SERVICE + "/1")).block(TIMEOUT);
    long end = server.revision();

    TestClient watcher = open(server, "game");
    watcher.watchService(5, SERVICE, from).block(TIMEOUT);
    List<WatchEvent> replay =
        watcher.events(5).takeUntil(e -> e.getRevision() == end).collectList().block(TIMEOUT);

    assertThat(replay).noneMatch(WatchEvent::hasSnapshot);
    assertThat(leaders(replay)).containsExactly(SERVICE + "/1@1", SERVICE + "/2@2");
  }

  @Test
  void leaderWhoseSessionExpiresIsReplacedWithinTheTtl() {
    Duration ttl = Duration.ofMillis(500);
    NameServer server = start();
    List<WatchEvent> events = watch(server);
    // a asks for a short TTL and then goes silent; b keeps the default TTL.
    TestClient a = track(TestClient.connect(server.port()));
    a.openSession("game", (int) ttl.toMillis()).block(TIMEOUT);
    a.register(SERVICE + "/1", "127.0.0.1:7001").block(TIMEOUT);
    campaign(a, 1);
    TestClient b = candidate(server, 2);
    campaign(b, 2);
    long silentSince = System.nanoTime();

    // The expiry check fires at the last frame plus the TTL; the margin is for a busy machine.
    Duration bound = ttl.plusMillis(1500);
    await().atMost(bound).until(() -> leaders(events).contains(SERVICE + "/2@2"));
    assertThat(Duration.ofNanos(System.nanoTime() - silentSince)).isLessThan(bound);
    assertThat(leaders(events)).containsExactly(SERVICE + "/1@1", SERVICE + "/2@2");
  }
}

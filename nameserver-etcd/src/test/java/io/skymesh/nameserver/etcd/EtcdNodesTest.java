package io.skymesh.nameserver.etcd;

import static io.skymesh.nameserver.etcd.Etcds.TIMEOUT;
import static io.skymesh.nameserver.etcd.Etcds.instance;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.etcd.jetcd.Client;
import io.skymesh.nameserver.spi.NameStore;
import io.skymesh.nameserver.spi.ServiceSelector;
import io.skymesh.nameserver.spi.StoreSession;
import io.skymesh.proto.KvWatchEvent;
import io.skymesh.proto.WatchEvent;
import io.skymesh.testkit.EtcdCluster;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Three name-server nodes (stores) over a three-member etcd cluster: one name service. Writes
 * through any node reach watchers on every node, in the same revision order; compaction gives a
 * resync snapshot, never a gap; an etcd member restart is survived.
 */
class EtcdNodesTest {

  private static EtcdCluster etcd;
  private static List<NameStore> nodes;
  private static Client admin;

  @BeforeAll
  static void start() {
    etcd = EtcdCluster.start(3);
    nodes = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      // Each node lists the members starting from a different one, as separate hosts would.
      nodes.add(
          Etcds.open(
              etcd.endpoint(i)
                  + ","
                  + etcd.endpoint((i + 1) % 3)
                  + ","
                  + etcd.endpoint((i + 2) % 3)));
    }
    admin = Etcds.client(etcd.endpoints());
  }

  @AfterAll
  static void stop() {
    if (admin != null) {
      admin.close();
    }
    if (nodes != null) {
      Etcds.closeAll(nodes);
    }
    if (etcd != null) {
      etcd.close();
    }
  }

  private static StoreSession open(int node, String app) {
    return nodes.get(node).openSession(app, Duration.ofSeconds(10)).block(TIMEOUT);
  }

  @Test
  void writesThroughAnyNodeReachWatchersOnEveryNodeInTheSameRevisionOrder() {
    String app = "spread";
    List<Recorder<WatchEvent>> watchers = new ArrayList<>();
    List<Recorder<KvWatchEvent>> kvWatchers = new ArrayList<>();
    for (NameStore node : nodes) {
      watchers.add(Recorder.of(node.watch(ServiceSelector.prefix(app + ".env."), 0)));
      kvWatchers.add(Recorder.of(node.watchKv(app + "/", 0)));
    }
    try {
      for (Recorder<WatchEvent> w : watchers) {
        assertThat(w.next().getSnapshot().getInstancesList()).isEmpty();
      }
      for (Recorder<KvWatchEvent> w : kvWatchers) {
        assertThat(w.next().getSnapshot().getEntriesList()).isEmpty();
      }
      List<StoreSession> sessions = List.of(open(0, app), open(1, app), open(2, app));
      List<Long> revisions = new ArrayList<>();
      List<Long> kvRevisions = new ArrayList<>();
      for (int round = 0; round < 4; round++) {
        for (int n = 0; n < 3; n++) {
          String url = app + ".env.svc" + (round % 2) + "/" + n + "-" + round;
          StoreSession session = sessions.get(n);
          revisions.add(session.register(instance(url)).block(TIMEOUT));
          revisions.add(session.campaign(url).block(TIMEOUT));
          revisions.add(
              session.setAttributes(url, Map.of("round", "" + round), false).block(TIMEOUT));
          kvRevisions.add(
              nodes
                  .get(n)
                  .kvPut(app + "/k" + n, ByteString.copyFromUtf8("" + round), OptionalLong.empty())
                  .block(TIMEOUT));
        }
        String gone = app + ".env.svc" + (round % 2) + "/" + (round % 3) + "-" + round;
        revisions.add(sessions.get(round % 3).deregister(gone).block(TIMEOUT));
      }
      long last = revisions.stream().mapToLong(Long::longValue).max().orElseThrow();
      List<List<WatchEvent>> seen = new ArrayList<>();
      for (Recorder<WatchEvent> w : watchers) {
        List<WatchEvent> events = w.until(e -> e.getRevision() >= last);
        assertThat(events).extracting(WatchEvent::getRevision).isSorted().doesNotHaveDuplicates();
        seen.add(events);
      }
      assertThat(seen.get(1)).isEqualTo(seen.get(0));
      assertThat(seen.get(2)).isEqualTo(seen.get(0));
      // Every registration and attribute change is an event at the revision its node answered.
      assertThat(seen.get(0).stream().map(WatchEvent::getRevision).toList())
          .containsAll(revisions.stream().filter(r -> r <= last).distinct().toList().subList(0, 3));

      long lastKv = kvRevisions.get(kvRevisions.size() - 1);
      List<List<KvWatchEvent>> kvSeen = new ArrayList<>();
      for (Recorder<KvWatchEvent> w : kvWatchers) {
        List<KvWatchEvent> events = w.until(e -> e.getRevision() >= lastKv);
        assertThat(events)
            .extracting(KvWatchEvent::getRevision)
            .containsExactlyElementsOf(kvRevisions);
        kvSeen.add(events);
      }
      assertThat(kvSeen.get(1)).isEqualTo(kvSeen.get(0));
      assertThat(kvSeen.get(2)).isEqualTo(kvSeen.get(0));

      // Every node reads the same members and leaders now.
      List<WatchEvent> snapshots = new ArrayList<>();
      for (NameStore node : nodes) {
        try (Recorder<WatchEvent> now =
            Recorder.of(node.watch(ServiceSelector.prefix(app + ".env."), 0))) {
          snapshots.add(now.next().toBuilder().setRevision(0).build());
        }
      }
      assertThat(snapshots.get(0).getSnapshot().getInstancesCount()).isEqualTo(8);
      assertThat(snapshots.get(0).getSnapshot().getLeadersCount()).isEqualTo(2);
      assertThat(snapshots).allSatisfy(s -> assertThat(s).isEqualTo(snapshots.get(0)));
      for (StoreSession session : sessions) {
        session.close("session closed").block(TIMEOUT);
      }
    } finally {
      watchers.forEach(Recorder::close);
      kvWatchers.forEach(Recorder::close);
    }
  }

  @Test
  void compactionPastAWatchersRevisionGivesItAResyncSnapshotNeverAGap() {
    String app = "compacted";
    StoreSession session = open(0, app);
    long first = session.register(instance(app + ".env.svc/1")).block(TIMEOUT);
    long kvFirst =
        nodes
            .get(0)
            .kvPut(app + "/a", ByteString.copyFromUtf8("1"), OptionalLong.empty())
            .block(TIMEOUT);
    session.register(instance(app + ".env.svc/2")).block(TIMEOUT);
    long now =
        nodes
            .get(1)
            .kvPut(app + "/b", ByteString.copyFromUtf8("2"), OptionalLong.empty())
            .block(TIMEOUT);
    admin.getKVClient().compact(now).join();

    try (Recorder<WatchEvent> watch =
            Recorder.of(nodes.get(2).watch(ServiceSelector.service(app + ".env.svc"), first));
        Recorder<KvWatchEvent> kvWatch = Recorder.of(nodes.get(1).watchKv(app + "/", kvFirst))) {
      WatchEvent resync = watch.next();
      assertThat(resync.getSnapshot().getResync()).isTrue();
      assertThat(resync.getRevision()).isGreaterThanOrEqualTo(now);
      assertThat(resync.getSnapshot().getInstancesList())
          .extracting(i -> i.getUrl())
          .containsExactly(app + ".env.svc/1", app + ".env.svc/2");
      KvWatchEvent kvResync = kvWatch.next();
      assertThat(kvResync.getSnapshot().getResync()).isTrue();
      assertThat(kvResync.getSnapshot().getEntriesList())
          .extracting(e -> e.getKey())
          .containsExactly(app + "/a", app + "/b");

      // And it carries on live after the resync.
      long third = session.register(instance(app + ".env.svc/3")).block(TIMEOUT);
      WatchEvent next = watch.next();
      assertThat(next.getRevision()).isEqualTo(third);
      assertThat(next.getInstanceAdded().getUrl()).isEqualTo(app + ".env.svc/3");
    }
    session.close("session closed").block(TIMEOUT);
  }

  @Test
  void aLiveWatcherWhoseMemberWasDownWhileEtcdCompactedGetsAResyncSnapshot() {
    String app = "livecompacted";
    // A node that talks to member 2 only, so that stopping the member cuts its watch off.
    NameStore lonely = Etcds.open(etcd.endpoint(2));
    StoreSession session = open(0, app);
    try (Recorder<WatchEvent> watch =
        Recorder.of(lonely.watch(ServiceSelector.service(app + ".env.svc"), 0))) {
      assertThat(watch.next().getSnapshot().getInstancesList()).isEmpty();
      long first = session.register(instance(app + ".env.svc/1")).block(TIMEOUT);
      assertThat(watch.next().getRevision()).isEqualTo(first);

      etcd.stop(2);
      session.register(instance(app + ".env.svc/2")).block(TIMEOUT);
      session.deregister(app + ".env.svc/1").block(TIMEOUT);
      long missed = session.register(instance(app + ".env.svc/3")).block(TIMEOUT);
      admin.getKVClient().compact(missed).join();
      etcd.startMember(2);

      // The watch resumes after the compacted revisions: the gap becomes a resync snapshot.
      WatchEvent resync = watch.next();
      assertThat(resync.getSnapshot().getResync()).isTrue();
      assertThat(resync.getRevision()).isGreaterThanOrEqualTo(missed);
      assertThat(resync.getSnapshot().getInstancesList())
          .extracting(i -> i.getUrl())
          .containsExactly(app + ".env.svc/2", app + ".env.svc/3");
      long after = session.register(instance(app + ".env.svc/4")).block(TIMEOUT);
      assertThat(watch.next().getRevision()).isEqualTo(after);
    } finally {
      if (etcd.pid(2).isEmpty()) {
        etcd.startMember(2);
      }
      lonely.close().block(TIMEOUT);
      session.close("session closed").block(TIMEOUT);
    }
  }

  @Test
  void anEtcdMemberRestartIsSurvived() {
    String app = "restarted";
    StoreSession session = open(0, app);
    session.register(instance(app + ".env.svc/0")).block(TIMEOUT);
    var ended = session.ended().toFuture();
    List<Recorder<WatchEvent>> watchers = new ArrayList<>();
    for (NameStore node : nodes) {
      watchers.add(Recorder.of(node.watch(ServiceSelector.service(app + ".env.svc"), 0)));
    }
    try {
      for (Recorder<WatchEvent> w : watchers) {
        assertThat(w.next().getSnapshot().getInstancesCount()).isEqualTo(1);
      }
      List<Long> revisions = new ArrayList<>();
      for (int member = 0; member < 3; member++) {
        etcd.restart(member);
        for (int n = 0; n < 3; n++) {
          StoreSession writer = n == 0 ? session : open(n, app);
          revisions.add(
              writer.register(instance(app + ".env.svc/" + member + "-" + n)).block(TIMEOUT));
        }
      }
      long last = revisions.get(revisions.size() - 1);
      for (Recorder<WatchEvent> w : watchers) {
        List<WatchEvent> events = w.until(e -> e.getRevision() >= last);
        assertThat(events).noneMatch(WatchEvent::hasSnapshot);
        assertThat(events).extracting(WatchEvent::getRevision).containsExactlyElementsOf(revisions);
      }
      assertThat(ended).as("the session outlived every member's restart").isNotDone();
    } finally {
      watchers.forEach(Recorder::close);
    }
    session.close("session closed").block(TIMEOUT);
  }
}

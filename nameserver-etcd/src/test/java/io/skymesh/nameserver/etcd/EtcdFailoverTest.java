package io.skymesh.nameserver.etcd;

import static io.skymesh.nameserver.etcd.Etcds.TIMEOUT;
import static io.skymesh.nameserver.etcd.Etcds.instance;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.etcd.jetcd.Client;
import io.skymesh.nameserver.spi.NameStore;
import io.skymesh.nameserver.spi.NameStoreException;
import io.skymesh.nameserver.spi.ServiceSelector;
import io.skymesh.nameserver.spi.StoreSession;
import io.skymesh.proto.Leader;
import io.skymesh.proto.StatusCode;
import io.skymesh.proto.WatchEvent;
import io.skymesh.testkit.EtcdCluster;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * 200 forced failovers of a service's leader over three nodes and a three-member etcd: the leader's
 * session is killed (its lease revoked, as when its node vanishes), the next campaigner leads with
 * a higher term, every node sees the same single leader per revision, and the deposed session's
 * writes are refused.
 */
class EtcdFailoverTest {

  private static final int FAILOVERS = 200;
  private static final String SERVICE = "failover.env.svc";

  private static EtcdCluster etcd;
  private static List<NameStore> nodes;
  private static Client admin;

  @BeforeAll
  static void start() {
    etcd = EtcdCluster.start(3);
    nodes = Etcds.open(etcd.endpoints(), 3);
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

  private record Candidate(StoreSession session, String url) {}

  private static Candidate campaign(int n) {
    StoreSession session =
        nodes.get(n % 3).openSession("failover", Duration.ofSeconds(10)).block(TIMEOUT);
    String url = SERVICE + "/" + n;
    session.register(instance(url)).block(TIMEOUT);
    session.campaign(url).block(TIMEOUT);
    return new Candidate(session, url);
  }

  /** The leader a watch event announces for the service, if it says. */
  private static Optional<Leader> leaderIn(WatchEvent event) {
    if (event.hasLeaderChanged()) {
      return Optional.of(event.getLeaderChanged());
    }
    if (event.hasSnapshot()) {
      return event.getSnapshot().getLeadersList().stream()
          .filter(l -> l.getServiceName().equals(SERVICE))
          .findFirst();
    }
    return Optional.empty();
  }

  @Test
  void noDoubleLeaderAndEverGrowingTermsOver200Failovers() {
    List<Recorder<WatchEvent>> watchers = new ArrayList<>();
    for (NameStore node : nodes) {
      watchers.add(Recorder.of(node.watch(ServiceSelector.service(SERVICE), 0)));
    }
    try {
      Deque<Candidate> line = new ArrayDeque<>();
      line.add(campaign(0));
      line.add(campaign(1));
      // What each watcher saw: leader per revision, in order.
      List<List<Leader>> seen = List.of(new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
      for (int i = 0; i < FAILOVERS; i++) {
        Candidate leader = line.poll();
        Candidate next = line.peek();
        var ended = leader.session().ended().toFuture();
        admin.getLeaseClient().revoke(Long.parseUnsignedLong(leader.session().id(), 16)).join();
        line.add(campaign(i + 2));

        // The node whose turn it is follows the watch until the next candidate leads.
        int watcher = i % 3;
        for (WatchEvent event :
            watchers
                .get(watcher)
                .until(
                    e -> leaderIn(e).map(l -> l.getLeaderUrl().equals(next.url())).orElse(false))) {
          leaderIn(event).ifPresent(seen.get(watcher)::add);
        }
        assertThat(ended.get(TIMEOUT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS))
            .isEqualTo("session expired");
        // The deposed leader is fenced: its session can do nothing any more.
        assertThatThrownBy(() -> leader.session().campaign(leader.url()).block(TIMEOUT))
            .isInstanceOfSatisfying(
                NameStoreException.class,
                e ->
                    assertThat(e.code())
                        .isIn(StatusCode.FAILED_PRECONDITION, StatusCode.NOT_FOUND));
      }
      String lastLeader = line.peek().url();
      for (int w = 0; w < 3; w++) {
        List<Leader> leaders = seen.get(w);
        if (leaders.isEmpty()
            || !leaders.get(leaders.size() - 1).getLeaderUrl().equals(lastLeader)) {
          for (WatchEvent event :
              watchers
                  .get(w)
                  .until(
                      e ->
                          leaderIn(e)
                              .map(l -> l.getLeaderUrl().equals(lastLeader))
                              .orElse(false))) {
            leaderIn(event).ifPresent(leaders::add);
          }
        }
      }
      for (List<Leader> leaders : seen) {
        // Nobody leads twice, and each term belongs to one leader only and only grows.
        Map<Long, String> byTerm = new HashMap<>();
        long term = 0;
        for (Leader l : leaders) {
          if (l.getLeaderUrl().isEmpty()) {
            continue;
          }
          if (l.getTerm() == term) {
            assertThat(l.getLeaderUrl()).isEqualTo(byTerm.get(term));
            continue;
          }
          assertThat(l.getTerm()).isGreaterThan(term);
          assertThat(byTerm.values()).doesNotContain(l.getLeaderUrl());
          byTerm.put(l.getTerm(), l.getLeaderUrl());
          term = l.getTerm();
        }
        assertThat(byTerm).hasSize(FAILOVERS + 1);
      }
      // Every node followed the same succession of leaders.
      List<List<String>> successions =
          seen.stream()
              .map(
                  leaders ->
                      leaders.stream()
                          .filter(l -> !l.getLeaderUrl().isEmpty())
                          .map(l -> l.getTerm() + "=" + l.getLeaderUrl())
                          .distinct()
                          .toList())
              .toList();
      assertThat(successions.get(0)).hasSizeGreaterThan(FAILOVERS);
      assertThat(successions.get(1)).isEqualTo(successions.get(0));
      assertThat(successions.get(2)).isEqualTo(successions.get(0));
      for (Candidate candidate : line) {
        candidate.session().close("session closed").block(TIMEOUT);
      }
    } catch (Exception e) {
      throw new AssertionError(e);
    } finally {
      watchers.forEach(Recorder::close);
    }
  }
}

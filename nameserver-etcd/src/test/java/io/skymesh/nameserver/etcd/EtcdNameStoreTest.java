package io.skymesh.nameserver.etcd;

import static io.skymesh.nameserver.etcd.Etcds.TIMEOUT;
import static io.skymesh.nameserver.etcd.Etcds.instance;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.lease.LeaseTimeToLiveResponse;
import io.etcd.jetcd.options.LeaseOption;
import io.skymesh.nameserver.spi.Counted;
import io.skymesh.nameserver.spi.NameStore;
import io.skymesh.nameserver.spi.NameStoreException;
import io.skymesh.nameserver.spi.ServiceSelector;
import io.skymesh.nameserver.spi.StoreSession;
import io.skymesh.proto.KvWatchEvent;
import io.skymesh.proto.StatusCode;
import io.skymesh.proto.WatchEvent;
import io.skymesh.testkit.EtcdCluster;
import java.time.Duration;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/** The store's mapping on one etcd member: sessions, instances, elections, KV and their watches. */
class EtcdNameStoreTest {

  private static final AtomicInteger apps = new AtomicInteger();
  private static EtcdCluster etcd;
  private static NameStore store;
  private static NameStore other;

  @BeforeAll
  static void startEtcd() {
    etcd = EtcdCluster.start(1);
    store = Etcds.open(etcd.endpoints());
    other = Etcds.open(etcd.endpoints());
  }

  @AfterAll
  static void stopEtcd() {
    if (store != null) {
      store.close().block(TIMEOUT);
      other.close().block(TIMEOUT);
    }
    if (etcd != null) {
      etcd.close();
    }
  }

  private static String app() {
    return "app" + apps.incrementAndGet();
  }

  private static StoreSession open(NameStore on, String app) {
    return on.openSession(app, Duration.ofSeconds(10)).block(TIMEOUT);
  }

  /**
   * A client leaves a silent node within 3/4 of the TTL (keepalives every quarter TTL, half a TTL
   * to answer), so a session's lease must never have less than that left while its node renews it:
   * had the node stopped at any instant, the lease would outlive the client's failover. jetcd's
   * managed keepalive alone lets it fall to 2/3 of the TTL before renewing.
   */
  @Test
  void aHeldSessionsLeaseNeverHasLessThanThreeQuartersOfItsTtlLeft() {
    StoreSession session = store.openSession(app(), Duration.ofSeconds(5)).block(TIMEOUT);
    long granted = session.ttl().toSeconds();
    long leaseId = Long.parseUnsignedLong(session.id(), 16);
    try (Client admin = Etcds.client(etcd.endpoints())) {
      // etcd reports whole seconds left, rounded down.
      Long least =
          Flux.interval(Duration.ofMillis(100))
              .take(session.ttl().multipliedBy(3).dividedBy(2))
              // A tick while the last read is still out is skipped, not an overflow error.
              .onBackpressureDrop()
              .concatMap(
                  tick ->
                      Mono.fromFuture(
                          () -> admin.getLeaseClient().timeToLive(leaseId, LeaseOption.DEFAULT)))
              .map(LeaseTimeToLiveResponse::getTTL)
              .reduce(Math::min)
              .block(TIMEOUT);
      assertThat(least)
          .as("seconds left of a %d s lease, at the least", granted)
          .isGreaterThanOrEqualTo((granted * 3 + 3) / 4);
    } finally {
      session.close("session closed").block(TIMEOUT);
    }
  }

  @Test
  void aUrlIsLiveInOneSessionOnlyAndFreeAgainOnceDeregistered() {
    String app = app();
    String url = app + ".env.svc/1";
    StoreSession first = open(store, app);
    StoreSession second = open(other, app);
    long registered = first.register(instance(url)).block(TIMEOUT);
    assertThat(registered).isPositive();
    assertThat(store.revision()).isGreaterThanOrEqualTo(registered);

    assertThatThrownBy(() -> second.register(instance(url)).block(TIMEOUT))
        .isInstanceOfSatisfying(
            NameStoreException.class,
            e -> assertThat(e.code()).isEqualTo(StatusCode.ALREADY_EXISTS))
        .hasMessageContaining(url);
    assertThatThrownBy(() -> second.deregister(url).block(TIMEOUT))
        .isInstanceOfSatisfying(
            NameStoreException.class, e -> assertThat(e.code()).isEqualTo(StatusCode.NOT_FOUND));

    long replaced = first.register(instance(url).toBuilder().setWeight(5).build()).block(TIMEOUT);
    assertThat(replaced).isGreaterThan(registered);
    long removed = first.deregister(url).block(TIMEOUT);
    assertThat(removed).isGreaterThan(replaced);
    assertThat(second.register(instance(url)).block(TIMEOUT)).isGreaterThan(removed);
    first.close("session closed").block(TIMEOUT);
    second.close("session closed").block(TIMEOUT);
  }

  @Test
  void watchersSeeAddedUpdatedRemovedWithTheReasonInRevisionOrder() {
    String app = app();
    String service = app + ".env.svc";
    StoreSession session = open(store, app);
    long before = session.register(instance(service + "/1")).block(TIMEOUT);
    try (Recorder<WatchEvent> watch =
        Recorder.of(other.watch(ServiceSelector.service(service), 0))) {
      WatchEvent snapshot = watch.next();
      assertThat(snapshot.hasSnapshot()).isTrue();
      assertThat(snapshot.getSnapshot().getResync()).isFalse();
      assertThat(snapshot.getRevision()).isGreaterThanOrEqualTo(before);
      assertThat(snapshot.getSnapshot().getInstancesList())
          .singleElement()
          .satisfies(i -> assertThat(i.getCreateRevision()).isEqualTo(before));

      long added = session.register(instance(service + "/2")).block(TIMEOUT);
      long updated =
          session.setAttributes(service + "/2", Map.of("zone", "a"), false).block(TIMEOUT);
      long merged = session.setAttributes(service + "/2", Map.of("rack", "7"), true).block(TIMEOUT);
      long removed = session.deregister(service + "/1").block(TIMEOUT);

      WatchEvent e1 = watch.next();
      assertThat(e1.getRevision()).isEqualTo(added);
      assertThat(e1.getInstanceAdded().getUrl()).isEqualTo(service + "/2");
      WatchEvent e2 = watch.next();
      assertThat(e2.getRevision()).isEqualTo(updated);
      assertThat(e2.getInstanceUpdated().getAttributesMap()).isEqualTo(Map.of("zone", "a"));
      assertThat(e2.getInstanceUpdated().getCreateRevision()).isEqualTo(added);
      WatchEvent e3 = watch.next();
      assertThat(e3.getRevision()).isEqualTo(merged);
      assertThat(e3.getInstanceUpdated().getAttributesMap())
          .isEqualTo(Map.of("zone", "a", "rack", "7"));
      WatchEvent e4 = watch.next();
      assertThat(e4.getRevision()).isEqualTo(removed);
      assertThat(e4.getInstanceRemoved().getUrl()).isEqualTo(service + "/1");
      assertThat(e4.getInstanceRemoved().getReason()).isEqualTo("deregistered");

      session.close("session closed").block(TIMEOUT);
      WatchEvent e5 = watch.next();
      assertThat(e5.getInstanceRemoved().getUrl()).isEqualTo(service + "/2");
      assertThat(e5.getInstanceRemoved().getReason()).isEqualTo("session closed");
      assertThat(e5.getRevision()).isGreaterThan(removed);
    }
  }

  @Test
  void aWatchResumesAfterItsLastRevisionWithoutASnapshot() {
    String app = app();
    String service = app + ".env.svc";
    StoreSession session = open(store, app);
    long first = session.register(instance(service + "/1")).block(TIMEOUT);
    long second = session.register(instance(service + "/2")).block(TIMEOUT);
    try (Recorder<WatchEvent> watch =
        Recorder.of(other.watch(ServiceSelector.prefix(app + ".env."), first))) {
      WatchEvent next = watch.next();
      assertThat(next.getRevision()).isEqualTo(second);
      assertThat(next.getInstanceAdded().getUrl()).isEqualTo(service + "/2");
      long third = session.register(instance(service + "/3")).block(TIMEOUT);
      assertThat(watch.next().getRevision()).isEqualTo(third);
    }
    session.close("session closed").block(TIMEOUT);
  }

  @Test
  void aWatchFromTheFutureGetsAResyncSnapshot() {
    String app = app();
    StoreSession session = open(store, app);
    session.register(instance(app + ".env.svc/1")).block(TIMEOUT);
    try (Recorder<WatchEvent> watch =
        Recorder.of(
            other.watch(ServiceSelector.service(app + ".env.svc"), store.revision() + 1000))) {
      WatchEvent snapshot = watch.next();
      assertThat(snapshot.getSnapshot().getResync()).isTrue();
      assertThat(snapshot.getSnapshot().getInstancesCount()).isEqualTo(1);
    }
    session.close("session closed").block(TIMEOUT);
  }

  @Test
  void theEarliestCampaignerLeadsAndEveryNewLeaderHasAHigherTerm() {
    String app = app();
    String service = app + ".env.svc";
    StoreSession a = open(store, app);
    StoreSession b = open(other, app);
    a.register(instance(service + "/a")).block(TIMEOUT);
    b.register(instance(service + "/b")).block(TIMEOUT);
    try (Recorder<WatchEvent> watch =
        Recorder.of(store.watch(ServiceSelector.service(service), 0))) {
      assertThat(watch.next().getSnapshot().getLeadersList()).isEmpty();

      long led = a.campaign(service + "/a").block(TIMEOUT);
      WatchEvent first = watch.next();
      assertThat(first.getRevision()).isEqualTo(led);
      assertThat(first.getLeaderChanged().getLeaderUrl()).isEqualTo(service + "/a");
      long term1 = first.getLeaderChanged().getTerm();
      assertThat(term1).isEqualTo(led);

      long notLed = b.campaign(service + "/b").block(TIMEOUT);
      assertThat(notLed).isGreaterThan(led);
      assertThat(a.campaign(service + "/a").block(TIMEOUT))
          .as("campaigning again keeps the place")
          .isGreaterThanOrEqualTo(notLed);

      long resigned = a.resign(service + "/a").block(TIMEOUT);
      WatchEvent second = watch.next();
      assertThat(second.getRevision()).isEqualTo(resigned);
      assertThat(second.getLeaderChanged().getLeaderUrl()).isEqualTo(service + "/b");
      long term2 = second.getLeaderChanged().getTerm();
      assertThat(term2).isGreaterThan(term1);

      // The leader's instance leaves: the leader change comes before the removal.
      long removed = b.deregister(service + "/b").block(TIMEOUT);
      WatchEvent nobody = watch.next();
      assertThat(nobody.getLeaderChanged().getLeaderUrl()).isEmpty();
      assertThat(nobody.getLeaderChanged().getTerm()).isEqualTo(term2);
      WatchEvent gone = watch.next();
      assertThat(gone.getInstanceRemoved().getUrl()).isEqualTo(service + "/b");
      assertThat(gone.getRevision()).isEqualTo(removed).isGreaterThan(nobody.getRevision());

      a.campaign(service + "/a").block(TIMEOUT);
      WatchEvent third = watch.next();
      assertThat(third.getLeaderChanged().getLeaderUrl()).isEqualTo(service + "/a");
      assertThat(third.getLeaderChanged().getTerm()).isGreaterThan(term2);
    }
    a.close("session closed").block(TIMEOUT);
    b.close("session closed").block(TIMEOUT);
  }

  @Test
  void aSessionResumedOnAnotherNodeKeepsItsInstancesAndEndsOnTheFirst() {
    String app = app();
    String url = app + ".env.svc/1";
    StoreSession first = open(store, app);
    first.register(instance(url)).block(TIMEOUT);
    first.campaign(url).block(TIMEOUT);
    first.detach().block(TIMEOUT);

    assertThat(other.resume(first.id(), "another-app").blockOptional(TIMEOUT)).isEmpty();
    assertThat(other.resume("not-a-session", app).blockOptional(TIMEOUT)).isEmpty();
    StoreSession resumed = other.resume(first.id(), app).block(TIMEOUT);
    assertThat(resumed.id()).isEqualTo(first.id());
    assertThat(resumed.ttl()).isPositive();

    // The first holder's close after the takeover touches nothing.
    first.close("session closed").block(TIMEOUT);
    try (Recorder<WatchEvent> watch =
        Recorder.of(store.watch(ServiceSelector.service(app + ".env.svc"), 0))) {
      WatchEvent snapshot = watch.next();
      assertThat(snapshot.getSnapshot().getInstancesList())
          .singleElement()
          .satisfies(i -> assertThat(i.getUrl()).isEqualTo(url));
      assertThat(snapshot.getSnapshot().getLeadersList())
          .singleElement()
          .satisfies(l -> assertThat(l.getLeaderUrl()).isEqualTo(url));

      // A third node takes it over: the second hears it ended.
      StoreSession third = store.resume(first.id(), app).block(TIMEOUT);
      assertThat(resumed.ended().block(TIMEOUT)).isEqualTo("session resumed on another connection");
      assertThatThrownBy(() -> resumed.register(instance(app + ".env.svc/2")).block(TIMEOUT))
          .isInstanceOfSatisfying(
              NameStoreException.class,
              e -> assertThat(e.code()).isEqualTo(StatusCode.FAILED_PRECONDITION));

      third.close("session closed").block(TIMEOUT);
      WatchEvent leaderGone = watch.next();
      assertThat(leaderGone.getLeaderChanged().getLeaderUrl()).isEmpty();
      WatchEvent removed = watch.next();
      assertThat(removed.getInstanceRemoved().getReason()).isEqualTo("session closed");
    }
    assertThat(other.resume(first.id(), app).blockOptional(TIMEOUT)).isEmpty();
  }

  /**
   * etcd reports the seconds a lease has left rounded down, so a lease in its last second reads as
   * 0, like an expired one; it is still live, and a client that reaches another node then resumes.
   */
  @Test
  void aSessionInTheLastSecondOfItsLeaseIsStillResumed() {
    String app = app();
    StoreSession first = store.openSession(app, Duration.ofSeconds(5)).block(TIMEOUT);
    first.register(instance(app + ".env.svc/1")).block(TIMEOUT);
    first.detach().block(TIMEOUT);
    long leaseId = Long.parseUnsignedLong(first.id(), 16);
    try (Client admin = Etcds.client(etcd.endpoints())) {
      await()
          .atMost(first.ttl().multipliedBy(2))
          .pollInterval(Duration.ofMillis(20))
          .until(
              () ->
                  admin.getLeaseClient().timeToLive(leaseId, LeaseOption.DEFAULT).join().getTTL()
                      == 0);
    }
    StoreSession resumed = other.resume(first.id(), app).block(TIMEOUT);
    assertThat(resumed).as("resumed in its lease's last second").isNotNull();
    assertThat(resumed.ttl()).isEqualTo(first.ttl());
    assertThat(resumed.deregister(app + ".env.svc/1").block(TIMEOUT)).isPositive();
    resumed.close("session closed").block(TIMEOUT);
  }

  @Test
  void aSessionResumedOnTheSameNodeBeforeItsOldConnectionWasSeenGoneEndsTheOldHolder() {
    String app = app();
    StoreSession first = open(store, app);
    first.register(instance(app + ".env.svc/1")).block(TIMEOUT);
    StoreSession again = store.resume(first.id(), app).block(TIMEOUT);
    assertThat(first.ended().block(TIMEOUT)).isEqualTo("session resumed on another connection");
    assertThat(again.ended().toFuture()).isNotDone();
    assertThat(again.deregister(app + ".env.svc/1").block(TIMEOUT)).isPositive();
    again.close("session closed").block(TIMEOUT);
  }

  @Test
  void aRevokedLeaseEndsTheSessionAndWatchersSeeOneResyncForItsManyKeys() {
    String app = app();
    String service = app + ".env.svc";
    StoreSession session = open(store, app);
    session.register(instance(service + "/1")).block(TIMEOUT);
    session.register(instance(service + "/2")).block(TIMEOUT);
    session.campaign(service + "/1").block(TIMEOUT);
    try (Recorder<WatchEvent> watch =
            Recorder.of(other.watch(ServiceSelector.service(service), 0));
        var client = Etcds.client(etcd.endpoints())) {
      assertThat(watch.next().getSnapshot().getInstancesCount()).isEqualTo(2);
      client.getLeaseClient().revoke(Long.parseUnsignedLong(session.id(), 16)).join();

      assertThat(session.ended().block(TIMEOUT)).isEqualTo("session expired");
      WatchEvent folded = watch.next();
      assertThat(folded.getSnapshot().getResync()).isTrue();
      assertThat(folded.getSnapshot().getInstancesList()).isEmpty();
      assertThat(folded.getSnapshot().getLeadersList())
          .singleElement()
          .satisfies(l -> assertThat(l.getLeaderUrl()).isEmpty());
    }
  }

  @Test
  void kvCompareAndSetIsATransactionOnTheModRevision() {
    String prefix = app() + "/";
    try (Recorder<KvWatchEvent> watch = Recorder.of(other.watchKv(prefix, 0))) {
      assertThat(watch.next().getSnapshot().getEntriesList()).isEmpty();

      long created =
          store
              .kvPut(prefix + "a", ByteString.copyFromUtf8("1"), OptionalLong.of(0))
              .block(TIMEOUT);
      assertThatThrownBy(
              () ->
                  store
                      .kvPut(prefix + "a", ByteString.copyFromUtf8("x"), OptionalLong.of(0))
                      .block(TIMEOUT))
          .isInstanceOfSatisfying(
              NameStoreException.class,
              e -> assertThat(e.code()).isEqualTo(StatusCode.FAILED_PRECONDITION))
          .hasMessageContaining("has mod_revision " + created);
      long changed =
          other
              .kvPut(prefix + "a", ByteString.copyFromUtf8("2"), OptionalLong.of(created))
              .block(TIMEOUT);
      assertThat(store.kvGet(prefix + "a").block(TIMEOUT).entries())
          .singleElement()
          .satisfies(
              e -> {
                assertThat(e.getValue().toStringUtf8()).isEqualTo("2");
                assertThat(e.getCreateRevision()).isEqualTo(created);
                assertThat(e.getModRevision()).isEqualTo(changed);
              });
      store.kvPut(prefix + "ab", ByteString.copyFromUtf8("3"), OptionalLong.empty()).block(TIMEOUT);

      assertThatThrownBy(
              () -> store.kvDelete(prefix + "a", OptionalLong.of(created)).block(TIMEOUT))
          .isInstanceOfSatisfying(
              NameStoreException.class,
              e -> assertThat(e.code()).isEqualTo(StatusCode.FAILED_PRECONDITION));
      Counted deleted = store.kvDelete(prefix + "a", OptionalLong.of(changed)).block(TIMEOUT);
      assertThat(deleted.count()).isEqualTo(1);
      assertThat(store.kvList(prefix).block(TIMEOUT).entries())
          .extracting(e -> e.getKey())
          .containsExactly(prefix + "ab");
      assertThat(store.kvDelete(prefix + "a", OptionalLong.empty()).block(TIMEOUT).count())
          .isZero();

      assertThat(watch.next().getPut().getModRevision()).isEqualTo(created);
      assertThat(watch.next().getPut().getModRevision()).isEqualTo(changed);
      assertThat(watch.next().getPut().getKey()).isEqualTo(prefix + "ab");
      KvWatchEvent gone = watch.next();
      assertThat(gone.getDeletedKey()).isEqualTo(prefix + "a");
      assertThat(gone.getRevision()).isEqualTo(deleted.revision());

      store.kvPut(prefix + "b", ByteString.copyFromUtf8("4"), OptionalLong.empty()).block(TIMEOUT);
      watch.next();
      Counted both = store.kvDeletePrefix(prefix).block(TIMEOUT);
      assertThat(both.count()).isEqualTo(2);
      KvWatchEvent folded = watch.next();
      assertThat(folded.getRevision()).isEqualTo(both.revision());
      assertThat(folded.getSnapshot().getResync()).isTrue();
      assertThat(folded.getSnapshot().getEntriesList()).isEmpty();
    }
  }

  @Test
  void clearingServicesRemovesWhateverSessionHoldsThem() {
    String app = app();
    StoreSession a = open(store, app);
    StoreSession b = open(other, app);
    a.register(instance(app + ".env.one/1")).block(TIMEOUT);
    b.register(instance(app + ".env.one/2")).block(TIMEOUT);
    b.register(instance(app + ".env.two/1")).block(TIMEOUT);
    try (Recorder<WatchEvent> watch =
        Recorder.of(other.watch(ServiceSelector.prefix(app + ".env.one"), 0))) {
      watch.next();
      Counted cleared = store.clearServices(app + ".env.one").block(TIMEOUT);
      assertThat(cleared.count()).isEqualTo(2);
      assertThat(watch.next().getInstanceRemoved().getReason()).isEqualTo("cleared");
      WatchEvent last = watch.next();
      assertThat(last.getInstanceRemoved().getReason()).isEqualTo("cleared");
      assertThat(last.getRevision()).isEqualTo(cleared.revision());
    }
    a.close("session closed").block(TIMEOUT);
    b.close("session closed").block(TIMEOUT);
  }
}

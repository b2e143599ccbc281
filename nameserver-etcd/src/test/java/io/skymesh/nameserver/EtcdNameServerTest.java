package io.skymesh.nameserver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.etcd.jetcd.Client;
import io.skymesh.nameserver.cli.NameServerCli;
import io.skymesh.nameserver.etcd.EtcdNameStoreProvider;
import io.skymesh.proto.Ack;
import io.skymesh.proto.KvWatchEvent;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.OpenSession;
import io.skymesh.proto.SessionOpened;
import io.skymesh.proto.Status;
import io.skymesh.proto.StatusCode;
import io.skymesh.proto.WatchEvent;
import io.skymesh.testkit.EtcdCluster;
import io.skymesh.testkit.ForkedJvm;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import reactor.core.publisher.Flux;
import reactor.test.StepVerifier;

/**
 * The name server's wire protocol over the etcd store: the embedded tests' conversation, several
 * nodes over one etcd as one name service, sessions resumed on another node, the admin CLI, and
 * {@code serve --etcd} in a JVM of its own. Real TCP, a real etcd, BlockHound on.
 */
class EtcdNameServerTest extends NameServerTestSupport {

  private static final Duration ETCD_TIMEOUT = Duration.ofSeconds(30);
  private static final Pattern LISTENING = Pattern.compile("Name server listening on \\S*:(\\d+)");
  private static final AtomicInteger apps = new AtomicInteger();
  private static EtcdCluster etcd;

  @BeforeAll
  static void startEtcd() {
    etcd = EtcdCluster.start(1);
  }

  @AfterAll
  static void stopEtcd() {
    if (etcd != null) {
      etcd.close();
    }
  }

  /** An app of its own per test, as the etcd cluster outlives each test. */
  private static String app() {
    return "etcdapp" + apps.incrementAndGet();
  }

  /** A name-server node over the test etcd. */
  private NameServer node() {
    return node(UnaryOperator.identity());
  }

  private NameServer node(UnaryOperator<NameServerBuilder> configure) {
    return start(
        builder ->
            configure.apply(
                builder.store(
                    new EtcdNameStoreProvider().open(etcd.endpoints()).block(ETCD_TIMEOUT))));
  }

  private static NameClientFrame.Builder open(String appId, int ttlMillis, String resumeId) {
    return NameClientFrame.newBuilder()
        .setOpenSession(
            OpenSession.newBuilder()
                .setProtocolVersion(1)
                .setAppId(appId)
                .setTtlMillis(ttlMillis)
                .setResumeSessionId(resumeId));
  }

  @Test
  void theEmbeddedConversationOverEtcd() {
    NameServer server = node();
    String app = app();
    String service = app + ".env.lobby";
    String url = service + "/1";
    TestClient owner = open(server, app);
    TestClient other = open(server, app);
    TestClient watcher = open(server, app);

    long watchedAt = watcher.watchService(1, service, 0).block(TIMEOUT).getRevision();
    assertThat(watchedAt).isPositive();
    // The owner watches its own service: each change's event arrives before its Ack.
    owner.watchService(7, service, 0).block(TIMEOUT);
    long registered = owner.register(url, "127.0.0.1:7001").block(TIMEOUT).getRevision();

    List<NameServerFrame> ownFrames =
        owner
            .frames()
            .takeUntil(f -> f.hasAck() && f.getAck().getRevision() == registered)
            .collectList()
            .block(TIMEOUT);
    int eventAt =
        indexOf(ownFrames, f -> f.hasWatchEvent() && f.getWatchEvent().getRevision() >= registered);
    assertThat(eventAt).isGreaterThanOrEqualTo(0).isLessThan(ownFrames.size() - 1);

    Status taken = other.error(TestClient.register(url, "127.0.0.1:7002", Map.of())).block(TIMEOUT);
    assertThat(taken.getCode()).isEqualTo(StatusCode.ALREADY_EXISTS);
    assertThat(taken.getMessage()).contains(url);
    assertThat(other.error(TestClient.campaign(url)).block(TIMEOUT).getCode())
        .isEqualTo(StatusCode.NOT_FOUND);
    Status notHeld =
        other
            .error(
                NameClientFrame.newBuilder()
                    .setDeregister(io.skymesh.proto.Deregister.newBuilder().setUrl(url)))
            .block(TIMEOUT);
    assertThat(notHeld.getCode()).isEqualTo(StatusCode.NOT_FOUND);
    // The embedded validation answers before the store is asked.
    assertThat(
            other
                .error(TestClient.register(app + ".env.lobby/2", "no-port", Map.of()))
                .block(TIMEOUT)
                .getCode())
        .isEqualTo(StatusCode.INVALID_ARGUMENT);
    assertThat(
            other
                .error(TestClient.register("other.env.lobby/2", "127.0.0.1:1", Map.of()))
                .block(TIMEOUT)
                .getCode())
        .isEqualTo(StatusCode.PERMISSION_DENIED);

    long led = owner.ack(TestClient.campaign(url)).block(TIMEOUT).getRevision();
    long deregistered = owner.deregister(url).block(TIMEOUT).getRevision();
    assertThat(deregistered).isGreaterThan(led);

    StepVerifier.create(watcher.events(1).take(5))
        .assertNext(
            snapshot -> {
              assertThat(snapshot.hasSnapshot()).isTrue();
              assertThat(snapshot.getRevision()).isEqualTo(watchedAt);
              assertThat(snapshot.getSnapshot().getInstancesList()).isEmpty();
            })
        .assertNext(
            added -> {
              assertThat(added.getInstanceAdded().getUrl()).isEqualTo(url);
              assertThat(added.getRevision()).isEqualTo(registered);
            })
        .assertNext(
            leader -> {
              assertThat(leader.getLeaderChanged().getLeaderUrl()).isEqualTo(url);
              assertThat(leader.getRevision()).isEqualTo(led);
            })
        .assertNext(nobody -> assertThat(nobody.getLeaderChanged().getLeaderUrl()).isEmpty())
        .assertNext(
            removed -> {
              assertThat(removed.getInstanceRemoved().getUrl()).isEqualTo(url);
              assertThat(removed.getInstanceRemoved().getReason()).isEqualTo("deregistered");
              assertThat(removed.getRevision()).isEqualTo(deregistered);
            })
        .expectComplete()
        .verify(TIMEOUT);

    String key = app + "/config";
    watcher.ack(TestClient.kvWatch(2, app + "/", 0)).block(TIMEOUT);
    long put = owner.put(key, "v1");
    assertThat(owner.get(key).getEntry().getValue().toStringUtf8()).isEqualTo("v1");
    Status cas = owner.error(TestClient.kvPut(key, "v2", put + 1000)).block(TIMEOUT);
    assertThat(cas.getCode()).isEqualTo(StatusCode.FAILED_PRECONDITION);
    long swapped = owner.ack(TestClient.kvPut(key, "v2", put)).block(TIMEOUT).getRevision();
    assertThat(owner.error(TestClient.kvPut(key, "v3", 0)).block(TIMEOUT).getCode())
        .isEqualTo(StatusCode.FAILED_PRECONDITION);
    assertThat(owner.ack(TestClient.kvList(app + "/")).block(TIMEOUT).getKvList().getEntriesList())
        .extracting(e -> e.getValue().toStringUtf8())
        .containsExactly("v2");
    assertThat(owner.ack(TestClient.kvDelete(app + "/missing", false)).block(TIMEOUT).getCount())
        .isZero();
    Ack deleted = owner.ack(TestClient.kvDelete(key, false)).block(TIMEOUT);
    assertThat(deleted.getCount()).isEqualTo(1);
    assertThat(owner.get(key).getFound()).isFalse();
    assertThat(owner.error(TestClient.kvGet("")).block(TIMEOUT).getCode())
        .isEqualTo(StatusCode.INVALID_ARGUMENT);

    StepVerifier.create(watcher.kvEvents(2).take(4))
        .assertNext(snapshot -> assertThat(snapshot.hasSnapshot()).isTrue())
        .assertNext(event -> assertThat(event.getRevision()).isEqualTo(put))
        .assertNext(event -> assertThat(event.getRevision()).isEqualTo(swapped))
        .assertNext(
            event -> {
              assertThat(event.getDeletedKey()).isEqualTo(key);
              assertThat(event.getRevision()).isEqualTo(deleted.getRevision());
            })
        .expectComplete()
        .verify(TIMEOUT);
  }

  @Test
  void pipelinedRequestsAreAnsweredInRequestOrder() {
    NameServer server = node();
    String app = app();
    TestClient client = open(server, app);
    client.register(app + ".env.svc/1", "127.0.0.1:7001").block(TIMEOUT);
    // Sent without waiting: store calls, answers without one, and refusals, interleaved.
    List<NameServerFrame> answers =
        Flux.range(0, 30)
            .flatMapSequential(
                i ->
                    client.call(
                        switch (i % 3) {
                          case 0 -> TestClient.kvPut(app + "/k" + i, "v" + i);
                          case 1 ->
                              NameClientFrame.newBuilder()
                                  .setKeepAlive(io.skymesh.proto.KeepAlive.getDefaultInstance());
                          default ->
                              TestClient.setAttributes(
                                  app + ".env.svc/" + (i % 2 == 0 ? "1" : "missing"),
                                  Map.of("i", "" + i),
                                  false);
                        }),
                30)
            .collectList()
            .block(TIMEOUT);
    List<NameServerFrame> received =
        client
            .frames()
            .filter(f -> f.hasAck() || f.hasError())
            .skip(2)
            .take(30)
            .collectList()
            .block(TIMEOUT);
    assertThat(received).isEqualTo(answers);
    long previous = 0;
    for (int i = 0; i < answers.size(); i++) {
      NameServerFrame answer = answers.get(i);
      if (i % 3 == 2 && i % 2 == 1) {
        assertThat(answer.getError().getStatus().getCode()).isEqualTo(StatusCode.NOT_FOUND);
        continue;
      }
      assertThat(answer.hasAck()).as("answer %s: %s", i, answer).isTrue();
      assertThat(answer.getAck().getRevision()).as("answer %s", i).isGreaterThanOrEqualTo(previous);
      previous = answer.getAck().getRevision();
    }
    assertThat(received)
        .extracting(f -> f.hasAck() ? f.getAck().getRequestId() : f.getError().getRequestId())
        .isSorted();
  }

  @Test
  void threeNodesOverOneEtcdAreOneNameService() {
    List<NameServer> nodes = List.of(node(), node(), node());
    String app = app();
    List<TestClient> clients = nodes.stream().map(node -> open(node, app)).toList();
    for (TestClient client : clients) {
      client.watchPrefix(1, app + ".", 0).block(TIMEOUT);
      client.ack(TestClient.kvWatch(2, app + "/", 0)).block(TIMEOUT);
    }
    long registered =
        clients.get(0).register(app + ".env.svc/1", "127.0.0.1:7001").block(TIMEOUT).getRevision();
    long written = clients.get(1).put(app + "/key", "value");
    long updated =
        clients
            .get(0)
            .ack(TestClient.setAttributes(app + ".env.svc/1", Map.of("a", "1"), false))
            .block(TIMEOUT)
            .getRevision();
    long removed =
        clients.get(2).ack(TestClient.kvDelete(app + "/", true)).block(TIMEOUT).getRevision();
    assertThat(List.of(registered, written, updated, removed)).isSorted().doesNotHaveDuplicates();

    for (TestClient client : clients) {
      List<Long> instanceRevisions =
          client
              .events(1)
              .skip(1)
              .take(2)
              .map(WatchEvent::getRevision)
              .collectList()
              .block(TIMEOUT);
      List<Long> kvRevisions =
          client
              .kvEvents(2)
              .skip(1)
              .take(2)
              .map(KvWatchEvent::getRevision)
              .collectList()
              .block(TIMEOUT);
      assertThat(instanceRevisions).containsExactly(registered, updated);
      assertThat(kvRevisions).containsExactly(written, removed);
    }
  }

  @Test
  void aClientResumesItsSessionOnAnotherNodeWithinTheTtlAndNotAfter() {
    NameServer a = node();
    NameServer b = node();
    String app = app();
    String url = app + ".env.svc/1";
    // It waits for the lease to lapse, longer than its own TTL without the keepalives.
    TestClient watcher = open(b, app).keepAliveEvery(Duration.ofSeconds(1));
    watcher.watchService(1, app + ".env.svc", 0).block(TIMEOUT);

    TestClient first = connect(a);
    SessionOpened opened = first.ack(open(app, 5000, "")).block(TIMEOUT).getSessionOpened();
    assertThat(opened.getResumed()).isFalse();
    first.register(url, "127.0.0.1:7001").block(TIMEOUT);
    first.close();

    TestClient second = connect(b);
    SessionOpened resumed =
        second.ack(open(app, 5000, opened.getSessionId())).block(TIMEOUT).getSessionOpened();
    assertThat(resumed.getResumed()).isTrue();
    assertThat(resumed.getSessionId()).isEqualTo(opened.getSessionId());
    // It holds the instance still: only its session may change it.
    long updated =
        second
            .ack(TestClient.setAttributes(url, Map.of("node", "b"), false))
            .block(TIMEOUT)
            .getRevision();
    second.close();

    // The instance never left while the session moved; it leaves when the session lapses.
    StepVerifier.create(watcher.events(1).take(4))
        .assertNext(snapshot -> assertThat(snapshot.hasSnapshot()).isTrue())
        .assertNext(added -> assertThat(added.getInstanceAdded().getUrl()).isEqualTo(url))
        .assertNext(
            update -> {
              assertThat(update.getInstanceUpdated().getAttributesMap()).containsEntry("node", "b");
              assertThat(update.getRevision()).isEqualTo(updated);
            })
        .assertNext(
            removed -> {
              assertThat(removed.getInstanceRemoved().getUrl()).isEqualTo(url);
              assertThat(removed.getInstanceRemoved().getReason()).isEqualTo("session expired");
            })
        .expectComplete()
        .verify(ETCD_TIMEOUT);

    TestClient late = connect(a);
    SessionOpened refused =
        late.ack(open(app, 5000, opened.getSessionId())).block(TIMEOUT).getSessionOpened();
    assertThat(refused.getResumed()).isFalse();
    assertThat(refused.getSessionId()).isNotEqualTo(opened.getSessionId());
  }

  @Test
  void aSessionTheStoreEndsClosesItsConnectionWithTheReason() throws Exception {
    NameServer a = node();
    NameServer b = node();
    String app = app();
    TestClient first = connect(a);
    SessionOpened opened = first.ack(open(app, 5000, "")).block(TIMEOUT).getSessionOpened();
    TestClient second = connect(b);
    assertThat(second.ack(open(app, 5000, opened.getSessionId())).block(TIMEOUT).getSessionOpened())
        .returns(true, SessionOpened::getResumed);

    NameServerFrame taken = first.frames().last().block(TIMEOUT);
    assertThat(taken.getError().getRequestId()).isZero();
    assertThat(taken.getError().getStatus().getCode()).isEqualTo(StatusCode.FAILED_PRECONDITION);
    assertThat(taken.getError().getStatus().getMessage())
        .contains(opened.getSessionId(), "resumed on another connection");

    // Its lease revoked behind its back: the session is gone, and the client is told so.
    try (Client client = Client.builder().endpoints(etcd.endpoints().split(",")).build()) {
      client
          .getLeaseClient()
          .revoke(Long.parseUnsignedLong(opened.getSessionId(), 16))
          .get(ETCD_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    }
    NameServerFrame lost = second.frames().last().block(ETCD_TIMEOUT);
    assertThat(lost.getError().getRequestId()).isZero();
    assertThat(lost.getError().getStatus().getCode()).isEqualTo(StatusCode.DEADLINE_EXCEEDED);
    assertThat(lost.getError().getStatus().getMessage()).contains(opened.getSessionId());
  }

  @Test
  void aSilentClientExpiresAndItsInstancesGo() {
    NameServer node = node();
    String app = app();
    String url = app + ".env.svc/1";
    TestClient watcher = open(node, app).keepAliveEvery(Duration.ofSeconds(1));
    watcher.watchService(1, app + ".env.svc", 0).block(TIMEOUT);
    TestClient silent = connect(node);
    silent.ack(open(app, 1000, "")).block(TIMEOUT);
    silent.register(url, "127.0.0.1:7001").block(TIMEOUT);

    NameServerFrame expired = silent.frames().last().block(TIMEOUT);
    assertThat(expired.getError().getRequestId()).isZero();
    assertThat(expired.getError().getStatus().getCode()).isEqualTo(StatusCode.DEADLINE_EXCEEDED);
    StepVerifier.create(watcher.events(1).take(3))
        .assertNext(snapshot -> assertThat(snapshot.hasSnapshot()).isTrue())
        .assertNext(added -> assertThat(added.getInstanceAdded().getUrl()).isEqualTo(url))
        .assertNext(
            removed -> {
              assertThat(removed.getInstanceRemoved().getUrl()).isEqualTo(url);
              assertThat(removed.getInstanceRemoved().getReason()).isEqualTo("session expired");
            })
        .expectComplete()
        .verify(TIMEOUT);
  }

  @Test
  void aSessionResumedOnTheSameNodeMovesToTheNewConnection() {
    NameServer node = node();
    String app = app();
    String url = app + ".env.svc/1";
    TestClient first = connect(node);
    SessionOpened opened = first.ack(open(app, 5000, "")).block(TIMEOUT).getSessionOpened();
    first.register(url, "127.0.0.1:7001").block(TIMEOUT);
    TestClient second = connect(node);
    assertThat(second.ack(open(app, 5000, opened.getSessionId())).block(TIMEOUT).getSessionOpened())
        .returns(true, SessionOpened::getResumed);

    NameServerFrame taken = first.frames().last().block(TIMEOUT);
    assertThat(taken.getError().getStatus().getCode()).isEqualTo(StatusCode.FAILED_PRECONDITION);
    // The old connection's close leaves the session to the new one, which still holds the url.
    assertThat(second.deregister(url).block(TIMEOUT).getRevision()).isPositive();
    assertThat(second.keepAlive().block(TIMEOUT).getRevision()).isPositive();
  }

  @Test
  void aKvWatcherThatFallsBehindIsBoundedAndStillGetsEveryChangeInOrder() {
    int queueLimit = 8;
    NameServer server = node(builder -> builder.watcherQueueLimit(queueLimit));
    String app = app();
    String prefix = app + "/";
    TestClient watcher = track(TestClient.connect(server.port(), 4096));
    watcher.openSession(app, 60_000).block(TIMEOUT);
    watcher.ack(TestClient.kvWatch(1, prefix, 0)).block(TIMEOUT);
    List<KvWatchEvent> seen = new CopyOnWriteArrayList<>();
    watcher.kvEvents(1).subscribe(seen::add);
    await().atMost(TIMEOUT).until(() -> !seen.isEmpty());

    watcher.pauseReading();
    List<TestClient> writers = List.of(open(server, app), open(server, app), open(server, app));
    String bulk = "x".repeat(8192);
    List<Long> written = new CopyOnWriteArrayList<>();
    int puts = 0;
    while (server.metrics().resyncs() == 0 && puts < 4000) {
      int from = puts;
      Flux.range(from, 60)
          .flatMap(
              i ->
                  writers
                      .get(i % writers.size())
                      .ack(TestClient.kvPut(prefix + (i % 50), bulk + i)),
              writers.size())
          .doOnNext(ack -> written.add(ack.getRevision()))
          .blockLast(ETCD_TIMEOUT);
      puts += 60;
    }
    assertThat(server.metrics().resyncs()).as("the watcher fell behind").isPositive();
    assertThat(server.metrics().peakQueuedFrames()).isLessThanOrEqualTo(queueLimit);
    // Changes while it is behind are not queued, and not lost.
    long last = writers.get(0).put(prefix + "last", "after");
    written.add(last);

    watcher.resumeReading();
    await().atMost(ETCD_TIMEOUT).until(() -> seen.get(seen.size() - 1).getRevision() == last);
    List<Long> delivered =
        seen.stream().filter(KvWatchEvent::hasPut).map(KvWatchEvent::getRevision).toList();
    assertThat(seen.stream().skip(1).filter(KvWatchEvent::hasSnapshot)).isEmpty();
    assertThat(delivered).isEqualTo(written.stream().sorted().toList());
    assertThat(server.metrics().peakQueuedFrames()).isLessThanOrEqualTo(queueLimit);
  }

  @Test
  void theAdminCliWorksAgainstANodeOverEtcd() {
    NameServer server = node();
    String app = app();
    TestClient client = open(server, app);
    client.register(app + ".env.svc/1", "127.0.0.1:7001").block(TIMEOUT);
    client.ack(TestClient.campaign(app + ".env.svc/1")).block(TIMEOUT);
    String addr = "127.0.0.1:" + server.port();

    Run put = cli("kv", "put", app + "/route", "{\"a\":1}", "--addr", addr);
    Run get = cli("kv", "get", app + "/route", "--addr", addr);
    Run missing = cli("kv", "get", app + "/missing", "--addr", addr);
    Run services = cli("services", app + ".", "--addr", addr);
    Run leaders = cli("leaders", app + ".", "--addr", addr);
    Run cleared = cli("clear-services", app + ".", "--addr", addr);

    assertThat(put.status()).isZero();
    assertThat(put.out()).startsWith("revision ");
    assertThat(get.status()).isZero();
    assertThat(get.out().trim()).isEqualTo("{\"a\":1}");
    assertThat(missing.status()).isEqualTo(1);
    assertThat(services.status()).isZero();
    assertThat(services.out())
        .contains(app + ".env.svc  leader " + app + ".env.svc/1")
        .contains("  " + app + ".env.svc/1  127.0.0.1:7001  weight 1  {}");
    assertThat(leaders.status()).isZero();
    assertThat(leaders.out()).contains(app + ".env.svc/1");
    assertThat(cleared.status()).isZero();
    assertThat(cleared.out()).contains("removed 1 instance(s)");
  }

  @Test
  void serveWithEtcdStartsAndServes() {
    try (ForkedJvm node =
        ForkedJvm.builder(NameServerCli.class.getName())
            .jvmArgs("-Xmx128m", "-XX:TieredStopAtLevel=1")
            .args("serve", "--port", "0", "--etcd", etcd.endpoints())
            .readyWhen(LISTENING)
            .deadline(Duration.ofSeconds(60))
            .start()) {
      int port = Integer.parseInt(node.ready().group(1));
      String app = app();
      TestClient client = track(TestClient.open(port, app));
      long put = client.put(app + "/k", "v");
      assertThat(client.get(app + "/k").getEntry().getModRevision()).isEqualTo(put);
      assertThat(client.register(app + ".env.svc/1", "127.0.0.1:7001").block(TIMEOUT).getRevision())
          .isGreaterThan(put);
    }
  }

  record Run(int status, String out, String err) {}

  private static Run cli(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli =
        NameServerCli.commandLine().setOut(new PrintWriter(out)).setErr(new PrintWriter(err));
    int status = cli.execute(args);
    return new Run(status, out.toString(), err.toString());
  }

  private static int indexOf(
      List<NameServerFrame> frames, java.util.function.Predicate<NameServerFrame> match) {
    for (int i = 0; i < frames.size(); i++) {
      if (match.test(frames.get(i))) {
        return i;
      }
    }
    return -1;
  }
}

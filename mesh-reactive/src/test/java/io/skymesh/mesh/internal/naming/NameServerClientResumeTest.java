package io.skymesh.mesh.internal.naming;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.skymesh.nameserver.NameServer;
import io.skymesh.proto.Instance;
import io.skymesh.proto.NameClientFrame.BodyCase;
import io.skymesh.proto.WatchEvent;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;

/**
 * After losing its connection the client opens the next one on another node asking to resume its
 * session; it registers its instances again only when the node did not resume it, and resumes its
 * watches from the last revision either way. Two recording proxies in front of one embedded server
 * play two nodes of a cluster.
 */
class NameServerClientResumeTest {

  private static final Duration DEADLINE = Duration.ofSeconds(30);

  private NameServer server;
  private RecordingProxy first;
  private RecordingProxy second;
  private NameServerClient client;
  private Disposable watching;
  private final BlockingQueue<WatchEvent> events = new LinkedBlockingQueue<>();

  @BeforeEach
  void start() throws InterruptedException {
    server = NameServer.builder().port(0).start().block(DEADLINE);
    InetSocketAddress target = InetSocketAddress.createUnresolved("127.0.0.1", server.port());
    RecordingProxy a = new RecordingProxy(target, DEADLINE);
    RecordingProxy b = new RecordingProxy(target, DEADLINE);
    client =
        new NameServerClient(
            NameServerClientConfig.of(
                    "game", List.of(a.address(), b.address()), Duration.ofSeconds(4))
                .withReconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200)));
    client.start().block(DEADLINE);
    boolean onA = client.nameServer().getPort() == a.address().getPort();
    first = onA ? a : b;
    second = onA ? b : a;
    watching = client.watch("game.zone1.lobby").subscribe(update -> events.add(update.event()));
    assertThat(next().hasSnapshot()).isTrue();
    client
        .register(
            Instance.newBuilder()
                .setUrl("game.zone1.lobby/1")
                .setAddress("127.0.0.1:1")
                .setProcessId("test-process")
                .build())
        .block(DEADLINE);
    assertThat(next().getInstanceAdded().getUrl()).isEqualTo("game.zone1.lobby/1");
  }

  @AfterEach
  void closeEverything() {
    watching.dispose();
    client.close().block(DEADLINE);
    first.close();
    second.close();
    server.closeNow(DEADLINE);
  }

  @Test
  void sessionNotResumedIsOpenedAgainWithEveryInstance() throws InterruptedException {
    long lastSeen = server.revision();
    client.disconnect();
    await().atMost(DEADLINE).until(() -> onSecond());

    assertThat(second.sent(BodyCase.OPEN_SESSION))
        .singleElement()
        .extracting(frame -> frame.getOpenSession().getResumeSessionId())
        .isEqualTo(firstSessionId());
    assertThat(second.sent(BodyCase.REGISTER))
        .extracting(frame -> frame.getRegister().getInstance().getUrl())
        // More than once if the server had not yet dropped the old session: ALREADY_EXISTS,
        // retried.
        .containsOnly("game.zone1.lobby/1");
    assertThat(second.sent(BodyCase.WATCH))
        .singleElement()
        .extracting(frame -> frame.getWatch().getFromRevision())
        .isEqualTo(lastSeen);
    // The server dropped the old session with the connection, then had the instance again.
    assertThat(next().getInstanceRemoved().getUrl()).isEqualTo("game.zone1.lobby/1");
    assertThat(next().getInstanceAdded().getUrl()).isEqualTo("game.zone1.lobby/1");
  }

  @Test
  void resumedSessionRegistersNothingAgainAndResumesItsWatches() {
    long lastSeen = server.revision();
    second.claimResumed();
    client.disconnect();
    await().atMost(DEADLINE).until(() -> onSecond());

    assertThat(second.sent(BodyCase.OPEN_SESSION))
        .singleElement()
        .extracting(frame -> frame.getOpenSession().getResumeSessionId())
        .isEqualTo(firstSessionId());
    assertThat(second.sent(BodyCase.REGISTER)).isEmpty();
    assertThat(second.sent(BodyCase.CAMPAIGN)).isEmpty();
    assertThat(second.sent(BodyCase.WATCH))
        .singleElement()
        .extracting(frame -> frame.getWatch().getFromRevision())
        .isEqualTo(lastSeen);
    // The old watch id, which a resuming node may still hold, is stopped.
    long oldWatchId = first.sent(BodyCase.WATCH).get(0).getWatch().getWatchId();
    await()
        .atMost(DEADLINE)
        .until(
            () ->
                second.sent(BodyCase.UNWATCH).stream()
                    .anyMatch(frame -> frame.getUnwatch().getWatchId() == oldWatchId));
  }

  private boolean onSecond() {
    InetSocketAddress node = client.nameServer();
    return client.connected() && node != null && node.getPort() == second.address().getPort();
  }

  /** The session id the first node granted; its OpenSession asked for no resume. */
  private String firstSessionId() {
    assertThat(first.sent(BodyCase.OPEN_SESSION))
        .singleElement()
        .extracting(frame -> frame.getOpenSession().getResumeSessionId())
        .isEqualTo("");
    String id =
        first.toClients.stream()
            .filter(frame -> frame.hasAck() && frame.getAck().hasSessionOpened())
            .map(frame -> frame.getAck().getSessionOpened().getSessionId())
            .findFirst()
            .orElseThrow();
    assertThat(id).isNotEmpty();
    return id;
  }

  private WatchEvent next() throws InterruptedException {
    WatchEvent event = events.poll(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
    assertThat(event).as("an event within %s", DEADLINE).isNotNull();
    return event;
  }
}

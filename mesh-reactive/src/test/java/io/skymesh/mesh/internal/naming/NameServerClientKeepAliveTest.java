package io.skymesh.mesh.internal.naming;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.skymesh.nameserver.NameServer;
import io.skymesh.proto.Instance;
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
import reactor.test.scheduler.VirtualTimeScheduler;

/**
 * A name server that stops answering without closing its connection (frozen, partitioned) is left
 * within one session TTL, measured in virtual time, and the client reconnects when it can.
 */
class NameServerClientKeepAliveTest {

  private static final Duration DEADLINE = Duration.ofSeconds(30);

  /** Long, so that the server never expires the session in real time during the test. */
  private static final Duration TTL = Duration.ofSeconds(40);

  private final VirtualTimeScheduler time = VirtualTimeScheduler.create();
  private NameServer server;
  private StallingProxy proxy;
  private NameServerClient client;
  private NameServerClient observer;
  private Disposable observing;

  @BeforeEach
  void start() {
    server =
        NameServer.builder().port(0).maxSessionTtl(Duration.ofSeconds(60)).start().block(DEADLINE);
    proxy =
        new StallingProxy(InetSocketAddress.createUnresolved("127.0.0.1", server.port()), DEADLINE);
    client =
        new NameServerClient(
            NameServerClientConfig.of("game", List.of(proxy.address()), TTL)
                .withReconnectBackoff(Duration.ofMillis(50), Duration.ofMillis(200))
                .withTimer(time));
    client.start().block(DEADLINE);
  }

  @AfterEach
  void closeEverything() {
    if (observing != null) {
      observing.dispose();
    }
    client.close().block(DEADLINE);
    if (observer != null) {
      observer.close().block(DEADLINE);
    }
    proxy.close();
    server.closeNow(DEADLINE);
    time.dispose();
  }

  @Test
  void answeredKeepAlivesKeepTheSession() {
    Duration interval = NameServerClientConfig.keepAliveInterval(TTL);
    for (int i = 0; i < 12; i++) {
      time.advanceTimeBy(interval);
      await().atMost(DEADLINE).until(() -> client.pendingRequests() == 0);
    }
    assertThat(client.connected()).isTrue();
  }

  @Test
  void silentNameServerIsLeftWithinOneTtlAndTheClientReconnects() throws InterruptedException {
    client.register(instance("game.zone1.lobby/1")).block(DEADLINE);
    Duration interval = NameServerClientConfig.keepAliveInterval(TTL);
    Duration deadline = NameServerClientConfig.answerDeadline(TTL);
    assertThat(interval.plus(deadline)).isLessThan(TTL);

    proxy.freeze();
    time.advanceTimeBy(interval);
    await().atMost(DEADLINE).until(() -> client.pendingRequests() == 1);
    time.advanceTimeBy(deadline.minusMillis(1));
    assertThat(client.connected()).as("connected before the deadline").isTrue();
    time.advanceTimeBy(Duration.ofMillis(1));
    await().atMost(DEADLINE).until(() -> !client.connected());

    proxy.thaw();
    await()
        .atMost(DEADLINE)
        .until(
            () -> {
              time.advanceTimeBy(Duration.ofMillis(50));
              return client.connected();
            });
    observer =
        new NameServerClient(
            NameServerClientConfig.of(
                "game",
                List.of(InetSocketAddress.createUnresolved("127.0.0.1", server.port())),
                TTL));
    observer.start().block(DEADLINE);
    BlockingQueue<WatchEvent> events = new LinkedBlockingQueue<>();
    observing = observer.watch("game.zone1.lobby").subscribe(update -> events.add(update.event()));
    WatchEvent snapshot = events.poll(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
    assertThat(snapshot).isNotNull();
    assertThat(snapshot.getSnapshot().getInstancesList())
        .extracting(Instance::getUrl)
        .containsExactly("game.zone1.lobby/1");
  }

  @Test
  void frozenNodeIsPassedOverAtStartWithinItsDeadline() {
    Duration ttl = Duration.ofSeconds(2);
    proxy.freeze();
    NameServerClient starting =
        new NameServerClient(
            NameServerClientConfig.of(
                "game",
                List.of(
                    proxy.address(),
                    InetSocketAddress.createUnresolved("127.0.0.1", server.port())),
                ttl),
            0);
    try {
      long begun = System.nanoTime();
      starting.start().block(DEADLINE);
      assertThat(Duration.ofNanos(System.nanoTime() - begun)).isLessThan(ttl);
      assertThat(starting.nameServer().getPort()).isEqualTo(server.port());
    } finally {
      starting.close().block(DEADLINE);
    }
  }

  private static Instance instance(String url) {
    return Instance.newBuilder()
        .setUrl(url)
        .setAddress("127.0.0.1:1")
        .setProcessId("test-process")
        .build();
  }
}

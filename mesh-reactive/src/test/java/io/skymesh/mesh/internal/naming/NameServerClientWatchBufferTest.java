package io.skymesh.mesh.internal.naming;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.skymesh.nameserver.NameServer;
import io.skymesh.proto.Instance;
import io.skymesh.proto.KvWatchEvent;
import io.skymesh.proto.WatchEvent;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.reactivestreams.Subscription;
import reactor.core.publisher.BaseSubscriber;

/**
 * A watch's subscriber that falls a whole buffer behind pauses the watch; once it catches up the
 * watch resumes where it stopped: every event arrives, once, in revision order.
 */
class NameServerClientWatchBufferTest {

  private static final Duration DEADLINE = Duration.ofSeconds(30);
  private static final int BOUND = 8;

  private NameServer server;
  private NameServerClient client;

  @BeforeEach
  void start() {
    server = NameServer.builder().port(0).start().block(DEADLINE);
    client =
        new NameServerClient(
            NameServerClientConfig.of(
                    "game",
                    List.of(InetSocketAddress.createUnresolved("127.0.0.1", server.port())),
                    Duration.ofSeconds(10))
                .withWatchBufferSize(BOUND));
    client.start().block(DEADLINE);
  }

  @AfterEach
  void closeEverything() {
    client.close().block(DEADLINE);
    server.closeNow(DEADLINE);
  }

  @Test
  void slowKvWatcherPausesAndThenGetsEveryEventOnceInOrder() {
    Slow<KvWatchEvent> slow = new Slow<>();
    client.kvWatch("k/").subscribe(slow);
    int writes = 5 * BOUND;
    for (int i = 0; i < writes; i++) {
      client.kvPut(String.format("k/%03d", i), ByteString.copyFromUtf8("v"), null).block(DEADLINE);
    }
    await().atMost(DEADLINE).until(() -> client.watchOverflows() > 0);
    assertThat(slow.received).isEmpty();

    slow.requestOneByOne();
    await().atMost(DEADLINE).until(() -> slow.received.size() == writes + 1);
    assertThat(slow.received.get(0).hasSnapshot()).isTrue();
    List<KvWatchEvent> puts = slow.received.subList(1, slow.received.size());
    assertThat(puts)
        .extracting(e -> e.getPut().getKey())
        .containsExactlyElementsOf(
            IntStream.range(0, writes).mapToObj(i -> String.format("k/%03d", i)).toList());
    assertThat(puts).extracting(KvWatchEvent::getRevision).isSorted().doesNotHaveDuplicates();
  }

  @Test
  void slowKvWatcherResyncsWhenTheServerNoLongerHasTheGap() {
    NameServer shortMemory = NameServer.builder().port(0).historyLimit(4).start().block(DEADLINE);
    NameServerClient forgetful =
        new NameServerClient(
            NameServerClientConfig.of(
                    "game",
                    List.of(InetSocketAddress.createUnresolved("127.0.0.1", shortMemory.port())),
                    Duration.ofSeconds(10))
                .withWatchBufferSize(BOUND));
    try {
      forgetful.start().block(DEADLINE);
      Slow<KvWatchEvent> slow = new Slow<>();
      forgetful.kvWatch("k/").subscribe(slow);
      int writes = 5 * BOUND;
      for (int i = 0; i < writes; i++) {
        forgetful
            .kvPut(String.format("k/%03d", i), ByteString.copyFromUtf8("v"), null)
            .block(DEADLINE);
      }
      await().atMost(DEADLINE).until(() -> forgetful.watchOverflows() > 0);

      slow.requestOneByOne();
      await()
          .atMost(DEADLINE)
          .until(() -> slow.received.stream().anyMatch(e -> e.getSnapshot().getResync()));
      KvWatchEvent resync =
          slow.received.stream().filter(e -> e.getSnapshot().getResync()).findFirst().get();
      assertThat(resync.getSnapshot().getEntriesList()).hasSize(writes);
      assertThat(slow.received)
          .extracting(KvWatchEvent::getRevision)
          .isSorted()
          .doesNotHaveDuplicates();
    } finally {
      forgetful.close().block(DEADLINE);
      shortMemory.closeNow(DEADLINE);
    }
  }

  @Test
  void slowServiceWatcherPausesAndThenGetsEveryEventOnceInOrder() {
    Slow<NameServerClient.WatchUpdate> slow = new Slow<>();
    client.watch("game.zone1.lobby").subscribe(slow);
    int instances = 3 * BOUND;
    for (int i = 0; i < instances; i++) {
      client
          .register(
              Instance.newBuilder()
                  .setUrl(String.format("game.zone1.lobby/%03d", i))
                  .setAddress("127.0.0.1:1")
                  .setProcessId("test-process")
                  .build())
          .block(DEADLINE);
    }
    await().atMost(DEADLINE).until(() -> client.watchOverflows() > 0);

    slow.requestOneByOne();
    await().atMost(DEADLINE).until(() -> slow.received.size() == instances + 1);
    List<WatchEvent> events = slow.received.stream().map(u -> u.event()).toList();
    assertThat(events.get(0).hasSnapshot()).isTrue();
    assertThat(events.subList(1, events.size()))
        .extracting(e -> e.getInstanceAdded().getUrl())
        .containsExactlyElementsOf(
            IntStream.range(0, instances)
                .mapToObj(i -> String.format("game.zone1.lobby/%03d", i))
                .toList());
    assertThat(events).extracting(WatchEvent::getRevision).isSorted().doesNotHaveDuplicates();
  }

  /** Asks for nothing until told, then for one event at a time. */
  private static final class Slow<T> extends BaseSubscriber<T> {
    final List<T> received = new CopyOnWriteArrayList<>();
    volatile boolean draining;

    @Override
    protected void hookOnSubscribe(Subscription subscription) {}

    @Override
    protected void hookOnNext(T value) {
      received.add(value);
      if (draining) {
        request(1);
      }
    }

    void requestOneByOne() {
      draining = true;
      request(1);
    }
  }
}

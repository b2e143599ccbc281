package io.skymesh.nameserver.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.skymesh.nameserver.spi.NameStore;
import io.skymesh.nameserver.spi.NameStoreException;
import io.skymesh.nameserver.spi.ServiceSelector;
import io.skymesh.nameserver.spi.StoreSession;
import io.skymesh.proto.Instance;
import io.skymesh.proto.KvWatchEvent;
import io.skymesh.proto.StatusCode;
import io.skymesh.proto.WatchEvent;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;

/** The embedded store through the storage SPI alone: the SPI's semantics, as a reference. */
class EmbeddedStoreTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(10);
  private static final String LOBBY = "game.zone1.lobby";

  private final NameStore store = new EmbeddedStore(4, 1L << 20, 0);
  private final List<Disposable> watches = new CopyOnWriteArrayList<>();

  @AfterEach
  void close() {
    watches.forEach(Disposable::dispose);
    store.close().block(TIMEOUT);
  }

  private static <T> T await(Mono<T> mono) {
    return mono.block(TIMEOUT);
  }

  private static Instance instance(String url) {
    return Instance.newBuilder().setUrl(url).setAddress("127.0.0.1:7001").build();
  }

  private static StatusCode refusal(Mono<?> mono) {
    try {
      mono.block(TIMEOUT);
    } catch (NameStoreException e) {
      return e.code();
    }
    throw new AssertionError("expected a NameStoreException");
  }

  private List<WatchEvent> watch(ServiceSelector selector, long from) {
    List<WatchEvent> events = new CopyOnWriteArrayList<>();
    watches.add(store.watch(selector, from).subscribe(events::add));
    return events;
  }

  @Test
  void sessionsHoldInstancesAndCampaignsAndWatchersSeeEveryChangeInOrder() {
    List<WatchEvent> events = watch(ServiceSelector.service(LOBBY), 0);
    StoreSession a = await(store.openSession("game", Duration.ofSeconds(10)));
    StoreSession b = await(store.openSession("game", Duration.ofSeconds(10)));

    long registered = await(a.register(instance(LOBBY + "/1")));
    StatusCode taken = refusal(b.register(instance(LOBBY + "/1")));
    StatusCode notHeld = refusal(b.campaign(LOBBY + "/1"));
    await(a.setAttributes(LOBBY + "/1", Map.of("zone", "eu"), false));
    long led = await(a.campaign(LOBBY + "/1"));
    await(a.close("session closed"));
    StatusCode ended = refusal(a.register(instance(LOBBY + "/2")));

    assertThat(taken).isEqualTo(StatusCode.ALREADY_EXISTS);
    assertThat(notHeld).isEqualTo(StatusCode.NOT_FOUND);
    assertThat(ended).isEqualTo(StatusCode.FAILED_PRECONDITION);
    assertThat(events)
        .extracting(WatchEvent::getEventCase)
        .containsExactly(
            WatchEvent.EventCase.SNAPSHOT,
            WatchEvent.EventCase.INSTANCE_ADDED,
            WatchEvent.EventCase.INSTANCE_UPDATED,
            WatchEvent.EventCase.LEADER_CHANGED,
            WatchEvent.EventCase.LEADER_CHANGED,
            WatchEvent.EventCase.INSTANCE_REMOVED);
    assertThat(events).extracting(WatchEvent::getRevision).isSorted().doesNotHaveDuplicates();
    assertThat(events.get(1).getRevision()).isEqualTo(registered);
    assertThat(events.get(3).getRevision()).isEqualTo(led);
    assertThat(events.get(3).getLeaderChanged().getTerm()).isEqualTo(1);
    assertThat(events.get(4).getLeaderChanged().getLeaderUrl()).as("nobody leads").isEmpty();
    assertThat(events.get(5).getInstanceRemoved().getReason()).isEqualTo("session closed");
    assertThat(store.revision()).isEqualTo(events.get(5).getRevision());
  }

  @Test
  void theEmbeddedStoreCannotResumeAndDetachEndsTheSession() {
    StoreSession a = await(store.openSession("game", Duration.ofSeconds(10)));
    await(a.register(instance(LOBBY + "/1")));
    List<WatchEvent> events = watch(ServiceSelector.prefix("game."), 0);

    StoreSession resumed = await(store.resume(a.id(), "game"));
    await(a.detach());
    StoreSession b = await(store.openSession("game", Duration.ofSeconds(10)));

    assertThat(store.resumable()).isFalse();
    assertThat(resumed).isNull();
    assertThat(events.get(0).getSnapshot().getInstancesList()).hasSize(1);
    assertThat(events.get(1).getInstanceRemoved().getReason()).isEqualTo("session closed");
    assertThat(await(b.register(instance(LOBBY + "/1")))).as("the url is free again").isPositive();
  }

  @Test
  void kvCompareAndSetAndWatchesThatResumeOrResync() {
    long a = await(store.kvPut("config/a", ByteString.copyFromUtf8("1"), OptionalLong.empty()));
    long b = await(store.kvPut("config/b", ByteString.copyFromUtf8("2"), OptionalLong.of(0)));

    StatusCode stale =
        refusal(store.kvPut("config/a", ByteString.copyFromUtf8("x"), OptionalLong.of(a - 1)));
    List<KvWatchEvent> resumed = new CopyOnWriteArrayList<>();
    watches.add(store.watchKv("config/", a).subscribe(resumed::add));
    long deleted = await(store.kvDelete("config/a", OptionalLong.of(a))).revision();
    for (int i = 0; i < 6; i++) {
      await(store.kvPut("other/" + i, ByteString.copyFromUtf8("v"), OptionalLong.empty()));
    }
    List<KvWatchEvent> compacted = new CopyOnWriteArrayList<>();
    watches.add(store.watchKv("config/", b).subscribe(compacted::add));
    await(store.kvGet("config/b"));

    assertThat(stale).isEqualTo(StatusCode.FAILED_PRECONDITION);
    assertThat(resumed).extracting(KvWatchEvent::getRevision).containsExactly(b, deleted);
    assertThat(resumed.get(0).getPut().getKey()).isEqualTo("config/b");
    assertThat(resumed.get(1).getDeletedKey()).isEqualTo("config/a");
    assertThat(compacted).hasSize(1);
    assertThat(compacted.get(0).getSnapshot().getResync()).isTrue();
    assertThat(compacted.get(0).getSnapshot().getEntriesList())
        .extracting(e -> e.getKey())
        .containsExactly("config/b");
    assertThat(await(store.kvDeletePrefix("other/")).count()).isEqualTo(6);
    assertThat(await(store.kvList("")).entries()).hasSize(1);
  }

  @Test
  void aCancelledWatchGetsNothingMore() {
    List<WatchEvent> events = new CopyOnWriteArrayList<>();
    Disposable watch = store.watch(ServiceSelector.prefix(""), 0).subscribe(events::add);
    StoreSession a = await(store.openSession("game", Duration.ofSeconds(10)));
    await(a.register(instance(LOBBY + "/1")));

    watch.dispose();
    await(a.register(instance(LOBBY + "/2")));

    assertThat(events).hasSize(2);
    assertThatThrownBy(() -> await(a.deregister(LOBBY + "/9")))
        .isInstanceOf(NameStoreException.class)
        .hasMessageContaining("holds no instance");
  }
}

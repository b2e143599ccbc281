package io.skymesh.mesh.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.skymesh.core.ServiceName;
import io.skymesh.core.exceptions.OverloadedException;
import io.skymesh.mesh.MembershipEvent;
import io.skymesh.mesh.internal.naming.NameServerClient.WatchUpdate;
import io.skymesh.proto.Instance;
import io.skymesh.proto.Snapshot;
import io.skymesh.proto.WatchEvent;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.reactivestreams.Subscription;
import reactor.core.publisher.BaseSubscriber;
import reactor.core.publisher.Sinks;

/**
 * The bound on the live changes a members() subscriber may fall behind by, fed exactly: each watch
 * event is one change (through the name server, a watcher that falls behind there may get one
 * resync instead of many events, which the router counts as one change).
 */
class NameRouterPacingTest {

  private static final ServiceName SERVICE = ServiceName.parse("game.zone1.paced");
  private static final Duration DEADLINE = Duration.ofSeconds(30);

  private static Instance instance(int i) {
    return Instance.newBuilder()
        .setUrl(SERVICE + "/i" + String.format("%05d", i))
        .setAddress("127.0.0.1:" + (20_000 + i))
        .setWeight(1)
        .setProcessId("p")
        .build();
  }

  @Test
  void aSubscriberThatStopsReadingGetsTheChangesThatFitThenOverloadedWhereTheGapBegins() {
    Sinks.Many<WatchUpdate> events = Sinks.many().unicast().onBackpressureBuffer();
    DefaultNameRouter router =
        new DefaultNameRouter(SERVICE, events.asFlux(), DEADLINE, Duration.ofSeconds(2));
    Snapshot.Builder snapshot = Snapshot.newBuilder();
    for (int i = 0; i < 10; i++) {
      snapshot.addInstances(instance(i));
    }
    events.tryEmitNext(
        new WatchUpdate(
            WatchEvent.newBuilder().setRevision(1).setSnapshot(snapshot).build(), false));

    List<MembershipEvent> received = Collections.synchronizedList(new ArrayList<>());
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicReference<Subscription> stalled = new AtomicReference<>();
    router
        .members()
        .subscribe(
            new BaseSubscriber<>() {
              @Override
              protected void hookOnSubscribe(Subscription subscription) {
                stalled.set(subscription);
                subscription.request(10); // the current members, then nothing for now
              }

              @Override
              protected void hookOnNext(MembershipEvent event) {
                received.add(event);
              }

              @Override
              protected void hookOnError(Throwable error) {
                failure.set(error);
              }
            });
    // A subscriber that keeps reading is not affected by the one that stopped.
    List<MembershipEvent> reader = Collections.synchronizedList(new ArrayList<>());
    router.members().subscribe(reader::add);

    for (int i = 10; i < 5_010; i++) {
      events.tryEmitNext(
          new WatchUpdate(
              WatchEvent.newBuilder().setRevision(i).setInstanceAdded(instance(i)).build(), false));
    }
    assertThat(reader).hasSize(5_010);
    assertThat(received).hasSize(10);
    assertThat(failure.get()).isNull(); // told when it reads again, at the gap

    stalled.get().request(Long.MAX_VALUE);
    await().atMost(DEADLINE).until(() -> failure.get() != null);
    assertThat(failure.get())
        .isInstanceOf(OverloadedException.class)
        .hasMessageContaining("members() subscriber of " + SERVICE)
        .hasMessageContaining("4096 changes behind");
    // Every change that fitted, in order, then the signal: nothing skipped silently.
    assertThat(received.size()).isBetween(10 + 4_096, 10 + 4_097);
    assertThat(received).containsExactlyElementsOf(reader.subList(0, received.size()));
    router.dispose();
  }
}

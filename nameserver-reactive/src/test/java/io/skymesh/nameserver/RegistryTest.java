package io.skymesh.nameserver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.skymesh.proto.Ack;
import io.skymesh.proto.ClearServices;
import io.skymesh.proto.Instance;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.Status;
import io.skymesh.proto.StatusCode;
import io.skymesh.proto.Unwatch;
import io.skymesh.proto.Watch;
import io.skymesh.proto.WatchEvent;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import reactor.test.StepVerifier;

/** Registering, deregistering, attributes and watches, over real TCP. */
class RegistryTest extends NameServerTestSupport {

  private static final String LOBBY = "game.zone1.lobby";
  private static final String LOBBY_7 = "game.zone1.lobby/7";

  @Test
  void watcherSeesSnapshotThenAddedThenRemoved() {
    NameServer server = start();
    TestClient watcher = open(server, "game");
    TestClient service = open(server, "game");

    Ack watching = watcher.watchService(1, LOBBY, 0).block(TIMEOUT);
    Ack registered = service.register("skymesh://" + LOBBY_7, "127.0.0.1:7000").block(TIMEOUT);
    Ack deregistered = service.deregister(LOBBY_7).block(TIMEOUT);

    assertThat(watching.getRevision()).isZero();
    assertThat(registered.getRevision()).isEqualTo(1);
    assertThat(deregistered.getRevision()).isEqualTo(2);
    StepVerifier.create(watcher.events(1).take(3))
        .assertNext(
            event -> {
              assertThat(event.getRevision()).isZero();
              assertThat(event.getSnapshot().getInstancesList()).isEmpty();
              assertThat(event.getSnapshot().getResync()).isFalse();
            })
        .assertNext(
            event -> {
              assertThat(event.getRevision()).isEqualTo(1);
              Instance added = event.getInstanceAdded();
              assertThat(added.getUrl()).isEqualTo(LOBBY_7);
              assertThat(added.getAddress()).isEqualTo("127.0.0.1:7000");
              assertThat(added.getCreateRevision()).isEqualTo(1);
              assertThat(added.getModRevision()).isEqualTo(1);
            })
        .assertNext(
            event -> {
              assertThat(event.getRevision()).isEqualTo(2);
              assertThat(event.getInstanceRemoved().getUrl()).isEqualTo(LOBBY_7);
              assertThat(event.getInstanceRemoved().getReason()).isEqualTo("deregistered");
            })
        .expectComplete()
        .verify(TIMEOUT);
    assertThat(server.revision()).isEqualTo(2);
  }

  @Test
  void snapshotHoldsTheLiveInstancesOfTheServiceOnly() {
    NameServer server = start();
    TestClient service = open(server, "game");
    service.register(LOBBY_7, "127.0.0.1:7000").block(TIMEOUT);
    service.register("game.zone1.lobby/8", "127.0.0.1:7001").block(TIMEOUT);
    service.register("game.zone1.lobbyx/1", "127.0.0.1:7002").block(TIMEOUT);
    service.register("game.zone2.lobby/1", "127.0.0.1:7003").block(TIMEOUT);
    TestClient watcher = open(server, "other");

    Ack ack = watcher.watchService(5, LOBBY, 0).block(TIMEOUT);

    StepVerifier.create(watcher.events(5).next())
        .assertNext(
            event -> {
              assertThat(event.getRevision()).isEqualTo(ack.getRevision()).isEqualTo(4);
              assertThat(event.getSnapshot().getInstancesList())
                  .extracting(Instance::getUrl)
                  .containsExactly(LOBBY_7, "game.zone1.lobby/8");
            })
        .expectComplete()
        .verify(TIMEOUT);
  }

  @Test
  void prefixWatchSeesEveryServiceUnderThePrefix() {
    NameServer server = start();
    TestClient service = open(server, "game");
    TestClient watcher = open(server, "game");
    service.register("game.zone1.lobby/1", "127.0.0.1:7000").block(TIMEOUT);
    watcher.watchPrefix(2, "game.zone1.", 0).block(TIMEOUT);
    service.register("game.zone1.chat/1", "127.0.0.1:7001").block(TIMEOUT);
    service.register("game.zone2.chat/1", "127.0.0.1:7002").block(TIMEOUT);
    service.register("game.zone1.login/1", "127.0.0.1:7003").block(TIMEOUT);

    StepVerifier.create(watcher.events(2).take(3))
        .assertNext(
            event ->
                assertThat(event.getSnapshot().getInstancesList())
                    .extracting(Instance::getUrl)
                    .containsExactly("game.zone1.lobby/1"))
        .assertNext(
            event -> assertThat(event.getInstanceAdded().getUrl()).isEqualTo("game.zone1.chat/1"))
        .assertNext(
            event -> assertThat(event.getInstanceAdded().getUrl()).isEqualTo("game.zone1.login/1"))
        .expectComplete()
        .verify(TIMEOUT);
  }

  @Test
  void everythingWatchSeesEveryInstance() {
    NameServer server = start();
    TestClient service = open(server, "game");
    TestClient watcher = open(server, "admin");
    service.register("game.zone1.lobby/1", "127.0.0.1:7000").block(TIMEOUT);
    watcher.watchPrefix(1, "", 0).block(TIMEOUT);
    service.register("game.zone2.chat/1", "127.0.0.1:7001").block(TIMEOUT);

    StepVerifier.create(watcher.events(1).take(2))
        .assertNext(event -> assertThat(event.getSnapshot().getInstancesCount()).isEqualTo(1))
        .assertNext(
            event -> assertThat(event.getInstanceAdded().getUrl()).isEqualTo("game.zone2.chat/1"))
        .expectComplete()
        .verify(TIMEOUT);
  }

  @Test
  void closedConnectionRemovesItsInstancesAsSessionClosed() {
    NameServer server = start();
    TestClient watcher = open(server, "game");
    TestClient service = open(server, "game");
    service.register(LOBBY_7, "127.0.0.1:7000").block(TIMEOUT);
    service.register("game.zone1.lobby/8", "127.0.0.1:7000").block(TIMEOUT);
    watcher.watchService(1, LOBBY, 0).block(TIMEOUT);

    service.close();

    StepVerifier.create(watcher.events(1).skip(1).take(2))
        .assertNext(event -> assertRemoved(event, LOBBY_7, "session closed"))
        .assertNext(event -> assertRemoved(event, "game.zone1.lobby/8", "session closed"))
        .expectComplete()
        .verify(TIMEOUT);
    await().atMost(TIMEOUT).until(() -> server.metrics().sessions() == 1);
    await().atMost(TIMEOUT).until(() -> server.metrics().instances() == 0);
  }

  @Test
  void secondLiveRegistrationFromAnotherSessionIsRefused() {
    NameServer server = start();
    TestClient first = open(server, "game");
    TestClient second = open(server, "game");
    first.register(LOBBY_7, "127.0.0.1:7000").block(TIMEOUT);

    Status refused =
        second.error(TestClient.register(LOBBY_7, "127.0.0.1:7001", Map.of())).block(TIMEOUT);

    assertThat(refused.getCode()).isEqualTo(StatusCode.ALREADY_EXISTS);
    assertThat(refused.getMessage()).contains(LOBBY_7).contains("another live session");

    // Once the holder deregisters, the url is free again.
    first.deregister(LOBBY_7).block(TIMEOUT);
    assertThat(second.register(LOBBY_7, "127.0.0.1:7001").block(TIMEOUT).getRevision())
        .isEqualTo(3);
  }

  @Test
  void sameSessionRegisteringAgainUpdatesTheInstance() {
    NameServer server = start();
    TestClient watcher = open(server, "game");
    TestClient service = open(server, "game");
    watcher.watchService(1, LOBBY, 0).block(TIMEOUT);
    service.register(LOBBY_7, "127.0.0.1:7000").block(TIMEOUT);

    service.ack(TestClient.register(LOBBY_7, "127.0.0.1:7100", Map.of("load", "3"))).block(TIMEOUT);

    StepVerifier.create(watcher.events(1).skip(2).next())
        .assertNext(
            event -> {
              Instance updated = event.getInstanceUpdated();
              assertThat(updated.getAddress()).isEqualTo("127.0.0.1:7100");
              assertThat(updated.getAttributesMap()).containsExactly(Map.entry("load", "3"));
              assertThat(updated.getCreateRevision()).isEqualTo(1);
              assertThat(updated.getModRevision()).isEqualTo(2).isEqualTo(event.getRevision());
            })
        .expectComplete()
        .verify(TIMEOUT);
  }

  @Test
  void badUrlIsRefusedNamingTheBadPart() {
    NameServer server = start();
    TestClient service = open(server, "game");

    Status badInstance =
        service
            .error(TestClient.register("game.zone1.lobby/7!", "127.0.0.1:7000", Map.of()))
            .block(TIMEOUT);
    Status badShape =
        service
            .error(TestClient.register("game.lobby/7", "127.0.0.1:7000", Map.of()))
            .block(TIMEOUT);

    assertThat(badInstance.getCode()).isEqualTo(StatusCode.INVALID_ARGUMENT);
    assertThat(badInstance.getMessage()).contains("game.zone1.lobby/7!").contains("instanceId");
    assertThat(badShape.getCode()).isEqualTo(StatusCode.INVALID_ARGUMENT);
    assertThat(badShape.getMessage()).contains("appId.env.service");
  }

  @Test
  void badAddressIsRefused() {
    NameServer server = start();
    TestClient service = open(server, "game");

    for (String address : List.of("", "localhost", "host:0", "host:http", "::1:80", "a b:1")) {
      Status status = service.error(TestClient.register(LOBBY_7, address, Map.of())).block(TIMEOUT);
      assertThat(status.getCode()).as(address).isEqualTo(StatusCode.INVALID_ARGUMENT);
      assertThat(status.getMessage()).as(address).contains("address");
    }
    assertThat(service.register(LOBBY_7, "[::1]:7000").block(TIMEOUT).getRevision()).isOne();
  }

  @Test
  void registeringUnderAnotherAppIsDenied() {
    NameServer server = start();
    TestClient service = open(server, "game");

    Status denied =
        service
            .error(TestClient.register("chat.zone1.lobby/7", "127.0.0.1:7000", Map.of()))
            .block(TIMEOUT);

    assertThat(denied.getCode()).isEqualTo(StatusCode.PERMISSION_DENIED);
    assertThat(denied.getMessage()).contains("\"game\"").contains("chat.zone1.lobby/7");
    await().atMost(TIMEOUT).until(() -> server.metrics().instances() == 0);
  }

  @Test
  void deregisteringWhatTheSessionDoesNotHoldIsNotFound() {
    NameServer server = start();
    TestClient first = open(server, "game");
    TestClient second = open(server, "game");
    first.register(LOBBY_7, "127.0.0.1:7000").block(TIMEOUT);

    Status notFound =
        second
            .error(
                NameClientFrame.newBuilder()
                    .setDeregister(io.skymesh.proto.Deregister.newBuilder().setUrl(LOBBY_7)))
            .block(TIMEOUT);
    Status neverRegistered =
        first
            .error(
                NameClientFrame.newBuilder()
                    .setDeregister(
                        io.skymesh.proto.Deregister.newBuilder().setUrl("game.zone1.lobby/9")))
            .block(TIMEOUT);

    assertThat(notFound.getCode()).isEqualTo(StatusCode.NOT_FOUND);
    assertThat(notFound.getMessage()).contains("another session");
    assertThat(neverRegistered.getCode()).isEqualTo(StatusCode.NOT_FOUND);
    await().atMost(TIMEOUT).until(() -> server.metrics().instances() == 1);
  }

  @Test
  void setAttributesReplacesOrMerges() {
    NameServer server = start();
    TestClient watcher = open(server, "game");
    TestClient service = open(server, "game");
    service
        .ack(TestClient.register(LOBBY_7, "127.0.0.1:7000", Map.of("a", "1", "b", "2")))
        .block(TIMEOUT);
    watcher.watchService(1, LOBBY, 0).block(TIMEOUT);

    Ack merged =
        service
            .ack(TestClient.setAttributes(LOBBY_7, Map.of("b", "3", "c", "4"), true))
            .block(TIMEOUT);
    Ack replaced =
        service.ack(TestClient.setAttributes(LOBBY_7, Map.of("z", "9"), false)).block(TIMEOUT);
    Status other =
        watcher.error(TestClient.setAttributes(LOBBY_7, Map.of("x", "1"), false)).block(TIMEOUT);

    assertThat(merged.getRevision()).isEqualTo(2);
    assertThat(replaced.getRevision()).isEqualTo(3);
    assertThat(other.getCode()).isEqualTo(StatusCode.NOT_FOUND);
    StepVerifier.create(watcher.events(1).skip(1).take(2))
        .assertNext(
            event ->
                assertThat(event.getInstanceUpdated().getAttributesMap())
                    .containsOnly(Map.entry("a", "1"), Map.entry("b", "3"), Map.entry("c", "4")))
        .assertNext(
            event -> {
              assertThat(event.getRevision()).isEqualTo(3);
              assertThat(event.getInstanceUpdated().getAttributesMap())
                  .containsOnly(Map.entry("z", "9"));
              assertThat(event.getInstanceUpdated().getCreateRevision()).isEqualTo(1);
            })
        .expectComplete()
        .verify(TIMEOUT);
  }

  @Test
  void ownWatchEventArrivesBeforeTheAckOfTheChange() {
    NameServer server = start();
    TestClient service = open(server, "game");
    service.watchService(1, LOBBY, 0).block(TIMEOUT);

    Ack ack = service.register(LOBBY_7, "127.0.0.1:7000").block(TIMEOUT);

    StepVerifier.create(
            service
                .frames()
                .filter(
                    frame ->
                        (frame.hasAck() && frame.getAck().getRequestId() == ack.getRequestId())
                            || (frame.hasWatchEvent() && frame.getWatchEvent().hasInstanceAdded()))
                .take(2))
        .assertNext(frame -> assertThat(frame.hasWatchEvent()).isTrue())
        .assertNext(frame -> assertThat(frame.hasAck()).isTrue())
        .expectComplete()
        .verify(TIMEOUT);
  }

  @Test
  void unwatchStopsTheWatch() {
    NameServer server = start();
    TestClient watcher = open(server, "game");
    TestClient service = open(server, "game");
    watcher.watchService(1, LOBBY, 0).block(TIMEOUT);
    watcher.watchService(2, LOBBY, 0).block(TIMEOUT);

    watcher
        .ack(NameClientFrame.newBuilder().setUnwatch(Unwatch.newBuilder().setWatchId(1)))
        .block(TIMEOUT);
    watcher
        .ack(NameClientFrame.newBuilder().setUnwatch(Unwatch.newBuilder().setWatchId(99)))
        .block(TIMEOUT);
    service.register(LOBBY_7, "127.0.0.1:7000").block(TIMEOUT);

    // Everything the registration caused reaches the watcher before the answer to a later request.
    long later = watcher.keepAlive().block(TIMEOUT).getRequestId();
    List<NameServerFrame> frames =
        watcher
            .frames()
            .takeUntil(f -> f.hasAck() && f.getAck().getRequestId() == later)
            .collectList()
            .block(TIMEOUT);
    assertThat(frames)
        .filteredOn(f -> f.hasWatchEvent() && f.getWatchEvent().getWatchId() == 2)
        .hasSize(2);
    assertThat(frames)
        .filteredOn(f -> f.hasWatchEvent() && f.getWatchEvent().getWatchId() == 1)
        .hasSize(1); // the snapshot only
    await().atMost(TIMEOUT).until(() -> server.metrics().watches() == 1);
  }

  @Test
  void watchIdsMustBeNonZeroAndUnique() {
    NameServer server = start();
    TestClient watcher = open(server, "game");
    watcher.watchService(1, LOBBY, 0).block(TIMEOUT);

    Status zero = watcher.error(watch(0, LOBBY)).block(TIMEOUT);
    Status again = watcher.error(watch(1, "game.zone1.chat")).block(TIMEOUT);
    Status badName = watcher.error(watch(2, "game.zone1")).block(TIMEOUT);
    Status slash =
        watcher
            .error(
                NameClientFrame.newBuilder()
                    .setWatch(Watch.newBuilder().setWatchId(3).setPrefix("game.zone1.lobby/")))
            .block(TIMEOUT);
    Status noTarget =
        watcher
            .error(NameClientFrame.newBuilder().setWatch(Watch.newBuilder().setWatchId(4)))
            .block(TIMEOUT);

    assertThat(zero.getCode()).isEqualTo(StatusCode.INVALID_ARGUMENT);
    assertThat(again.getCode()).isEqualTo(StatusCode.ALREADY_EXISTS);
    assertThat(badName.getCode()).isEqualTo(StatusCode.INVALID_ARGUMENT);
    assertThat(badName.getMessage()).contains("game.zone1");
    assertThat(slash.getCode()).isEqualTo(StatusCode.INVALID_ARGUMENT);
    assertThat(noTarget.getCode()).isEqualTo(StatusCode.INVALID_ARGUMENT);
  }

  @Test
  void clearServicesRemovesEveryInstanceUnderThePrefix() {
    NameServer server = start();
    TestClient game = open(server, "game");
    TestClient admin = open(server, "admin");
    game.register("game.zone1.lobby/1", "127.0.0.1:7000").block(TIMEOUT);
    game.register("game.zone1.lobby/2", "127.0.0.1:7000").block(TIMEOUT);
    game.register("game.zone2.lobby/1", "127.0.0.1:7000").block(TIMEOUT);
    admin.watchPrefix(1, "game.", 0).block(TIMEOUT);

    Ack cleared =
        admin
            .ack(
                NameClientFrame.newBuilder()
                    .setClearServices(ClearServices.newBuilder().setPrefix("game.zone1.")))
            .block(TIMEOUT);

    assertThat(cleared.getCount()).isEqualTo(2);
    assertThat(cleared.getRevision()).isEqualTo(5);
    StepVerifier.create(admin.events(1).skip(1).take(2))
        .assertNext(event -> assertRemoved(event, "game.zone1.lobby/1", "cleared"))
        .assertNext(event -> assertRemoved(event, "game.zone1.lobby/2", "cleared"))
        .expectComplete()
        .verify(TIMEOUT);
    // The session that held them no longer does.
    Status gone =
        game.error(
                NameClientFrame.newBuilder()
                    .setDeregister(
                        io.skymesh.proto.Deregister.newBuilder().setUrl("game.zone1.lobby/1")))
            .block(TIMEOUT);
    assertThat(gone.getCode()).isEqualTo(StatusCode.NOT_FOUND);
    await().atMost(TIMEOUT).until(() -> server.metrics().instances() == 1);
  }

  private static NameClientFrame.Builder watch(long id, String serviceName) {
    return NameClientFrame.newBuilder()
        .setWatch(Watch.newBuilder().setWatchId(id).setServiceName(serviceName));
  }

  static void assertRemoved(WatchEvent event, String url, String reason) {
    assertThat(event.getInstanceRemoved().getUrl()).isEqualTo(url);
    assertThat(event.getInstanceRemoved().getReason()).isEqualTo(reason);
  }

  static boolean isError(NameServerFrame frame, StatusCode code) {
    return frame.hasError() && frame.getError().getStatus().getCode() == code;
  }
}

package io.skymesh.nameserver;

import static org.assertj.core.api.Assertions.assertThat;

import io.skymesh.nameserver.client.NameServerConnection;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.OpenSession;
import io.skymesh.proto.Status;
import io.skymesh.proto.StatusCode;
import io.skymesh.proto.Watch;
import io.skymesh.proto.WatchEvent;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import reactor.test.StepVerifier;

/**
 * One client's oversize input never costs another client anything: an instance too large is refused
 * with a clear error; an error about a huge input quotes only its start; a snapshot too large for
 * one frame reaches its watcher in parts, whole once joined.
 */
class OversizeTest extends NameServerTestSupport {

  private static String bytes(int n, char c) {
    return String.valueOf(c).repeat(n);
  }

  @Test
  void attributesThatWouldMakeA19MbEventAreRefusedAndEveryoneElseIsUntouched() {
    NameServer server = start();
    TestClient other = open(server, "game");
    other.register("game.zone1.lobby/1", "127.0.0.1:7001").block(TIMEOUT);
    TestClient watcher = open(server, "game");
    watcher.watchService(1, "game.zone1.lobby", 0).block(TIMEOUT);
    TestClient everything = open(server, "ops");
    everything.watchPrefix(2, "", 0).block(TIMEOUT);
    TestClient greedy = open(server, "game");
    greedy.register("game.zone1.lobby/2", "127.0.0.1:7002").block(TIMEOUT);
    long before = server.revision();

    // Growing the instance by merging 1 MiB at a time, toward 19 MB: the first step is refused.
    Status refused =
        greedy
            .error(
                TestClient.setAttributes(
                    "game.zone1.lobby/2", Map.of("blob0", bytes(1 << 20, 'x')), true))
            .block(TIMEOUT);
    assertThat(refused.getCode()).isEqualTo(StatusCode.INVALID_ARGUMENT);
    assertThat(refused.getMessage())
        .startsWith("instance game.zone1.lobby/2 would be about 10")
        .endsWith(
            "bytes with these attributes, over the name server's maximum instance size of 65536"
                + " bytes; nothing was changed");
    // Registering it that large at once: refused too, and the message stays short.
    Status tooLarge =
        greedy
            .error(
                TestClient.register(
                    "game.zone1.lobby/3", "127.0.0.1:7003", Map.of("blob", bytes(15 << 20, 'y'))))
            .block(TIMEOUT);
    assertThat(tooLarge.getCode()).isEqualTo(StatusCode.INVALID_ARGUMENT);
    assertThat(tooLarge.getMessage())
        .contains("over the name server's maximum instance size")
        .hasSizeLessThan(300);
    assertThat(server.revision()).isEqualTo(before);

    // Every session, watch and instance is as it was: the next change reaches both watchers.
    long next = greedy.deregister("game.zone1.lobby/2").block(TIMEOUT).getRevision();
    StepVerifier.create(
            watcher
                .events(1)
                .filter(e -> e.getRevision() == next)
                .map(WatchEvent::hasInstanceRemoved))
        .expectNext(true)
        .thenCancel()
        .verify(TIMEOUT);
    StepVerifier.create(
            everything
                .events(2)
                .filter(e -> e.getRevision() == next)
                .map(WatchEvent::hasInstanceRemoved))
        .expectNext(true)
        .thenCancel()
        .verify(TIMEOUT);
    // Published after the batch that answered: waited for.
    org.awaitility.Awaitility.await()
        .atMost(TIMEOUT)
        .untilAsserted(() -> assertThat(server.metrics().sessions()).isEqualTo(4));
    // Published after the batch that answered: waited for.
    org.awaitility.Awaitility.await()
        .atMost(TIMEOUT)
        .untilAsserted(() -> assertThat(server.metrics().instances()).isEqualTo(1));
  }

  @Test
  void aBadServiceUrlOf9MibGetsAShortErrorAndTheSessionGoesOn() {
    NameServer server = start();
    TestClient client = open(server, "game");
    String url = "game.zone1." + bytes(9 << 20, 'z') + "/1";

    Status refused =
        client.error(TestClient.register(url, "127.0.0.1:7001", Map.of())).block(TIMEOUT);

    assertThat(refused.getCode()).isEqualTo(StatusCode.INVALID_ARGUMENT);
    assertThat(refused.getMessage())
        .isEqualTo(
            "Invalid ServiceUrl \"game.zone1."
                + bytes(53, 'z')
                + "...\" ("
                + url.length()
                + " characters): "
                + url.length()
                + " characters, longer than any ServiceUrl (at most 269)");
    client.register("game.zone1.lobby/1", "127.0.0.1:7001").block(TIMEOUT);
    // Published after the batch that answered: waited for.
    org.awaitility.Awaitility.await()
        .atMost(TIMEOUT)
        .untilAsserted(() -> assertThat(server.metrics().instances()).isEqualTo(1));
  }

  @Test
  void moreAttributesThanTheLimitAreRefusedAtRegistrationAndByAMerge() {
    NameServer server = start();
    TestClient client = open(server, "game");
    Map<String, String> tooMany = new java.util.HashMap<>();
    for (int i = 0; i <= 256; i++) {
      tooMany.put("a" + i, "v");
    }

    Status refused =
        client
            .error(TestClient.register("game.zone1.lobby/1", "127.0.0.1:7001", tooMany))
            .block(TIMEOUT);
    assertThat(refused.getCode()).isEqualTo(StatusCode.INVALID_ARGUMENT);
    assertThat(refused.getMessage())
        .isEqualTo(
            "instance game.zone1.lobby/1 has 257 attributes, over the name server's maximum of"
                + " 256; nothing was registered");

    Map<String, String> half = new java.util.HashMap<>();
    Map<String, String> otherHalf = new java.util.HashMap<>();
    for (int i = 0; i < 200; i++) {
      half.put("a" + i, "v");
      otherHalf.put("b" + i, "v");
    }
    client.ack(TestClient.register("game.zone1.lobby/1", "127.0.0.1:7001", half)).block(TIMEOUT);
    long revision = server.revision();
    Status merged =
        client
            .error(TestClient.setAttributes("game.zone1.lobby/1", otherHalf, true))
            .block(TIMEOUT);
    assertThat(merged.getMessage())
        .isEqualTo(
            "instance game.zone1.lobby/1 would have 400 attributes, over the name server's"
                + " maximum of 256; nothing was changed");
    assertThat(server.revision()).isEqualTo(revision);
    // Replacing them all is within the limit.
    client.ack(TestClient.setAttributes("game.zone1.lobby/1", otherHalf, false)).block(TIMEOUT);
  }

  @Test
  void aSnapshotLargerThanAFrameArrivesInPartsAndWhole() {
    int instances = 300;
    // 300 instances of 60 KiB: an 18 MB snapshot, over the 16 MiB frame limit.
    NameServer server = start();
    TestClient owner = open(server, "game");
    String blob = bytes(60 * 1024, 'a');
    for (int i = 0; i < instances; i++) {
      owner
          .ack(
              TestClient.register(
                  "game.zone1.lobby/" + i, "127.0.0.1:" + (7000 + i), Map.of("blob", blob)))
          .block(TIMEOUT);
    }
    owner.ack(TestClient.campaign("game.zone1.lobby/7")).block(TIMEOUT);

    // On the wire: parts, each under a MiB and a bit, every one but the last continued.
    TestClient raw = open(server, "game");
    raw.watchService(1, "game.zone1.lobby", 0).block(TIMEOUT);
    List<NameServerFrame> parts =
        raw.frames()
            .filter(f -> f.hasWatchEvent())
            .takeUntil(f -> !f.getWatchEvent().getSnapshot().getContinued())
            .collectList()
            .block(TIMEOUT);
    assertThat(parts.size()).isGreaterThan(16);
    assertThat(parts).allMatch(f -> f.getSerializedSize() < (1 << 20) + 70 * 1024);
    assertThat(parts.subList(0, parts.size() - 1))
        .allMatch(f -> f.getWatchEvent().getSnapshot().getContinued());
    assertThat(
            parts.stream().mapToInt(f -> f.getWatchEvent().getSnapshot().getInstancesCount()).sum())
        .isEqualTo(instances);

    // Through a connection: one whole snapshot.
    List<NameServerFrame> events = new CopyOnWriteArrayList<>();
    NameServerConnection connection =
        NameServerConnection.builder("127.0.0.1", server.port())
            .onEvent(events::add)
            .connect()
            .block(TIMEOUT);
    try {
      connection
          .request(
              NameClientFrame.newBuilder()
                  .setOpenSession(OpenSession.newBuilder().setProtocolVersion(1).setAppId("game")))
          .block(TIMEOUT);
      connection
          .request(
              NameClientFrame.newBuilder()
                  .setWatch(Watch.newBuilder().setWatchId(9).setServiceName("game.zone1.lobby")))
          .block(TIMEOUT);
      org.awaitility.Awaitility.await().atMost(TIMEOUT).until(() -> !events.isEmpty());
      assertThat(events).hasSize(1);
      WatchEvent whole = events.get(0).getWatchEvent();
      assertThat(whole.getSnapshot().getContinued()).isFalse();
      assertThat(whole.getSnapshot().getInstancesCount()).isEqualTo(instances);
      assertThat(whole.getSnapshot().getLeadersList())
          .singleElement()
          .satisfies(l -> assertThat(l.getLeaderUrl()).isEqualTo("game.zone1.lobby/7"));
      assertThat(whole.getSerializedSize()).isGreaterThan(16 << 20);
      // And the watcher stays connected: the next change arrives after the snapshot.
      long next = owner.deregister("game.zone1.lobby/0").block(TIMEOUT).getRevision();
      org.awaitility.Awaitility.await().atMost(TIMEOUT).until(() -> events.size() == 2);
      assertThat(events.get(1).getWatchEvent().getRevision()).isEqualTo(next);
    } finally {
      connection.dispose();
    }
  }
}

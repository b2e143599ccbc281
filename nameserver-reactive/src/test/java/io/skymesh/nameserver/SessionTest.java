package io.skymesh.nameserver;

import static io.skymesh.nameserver.RegistryTest.assertRemoved;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.OpenSession;
import io.skymesh.proto.SessionOpened;
import io.skymesh.proto.Status;
import io.skymesh.proto.StatusCode;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.test.StepVerifier;

/** Opening sessions, the rules of the first frame and of request ids, TTLs and expiry. */
class SessionTest extends NameServerTestSupport {

  @Test
  void openSessionGrantsTheDefaultTtl() {
    NameServer server = start();
    TestClient client = connect(server);

    SessionOpened opened = client.openSession("game", 0).block(TIMEOUT);

    assertThat(opened.getTtlMillis()).isEqualTo(10_000);
    assertThat(opened.getSessionId()).isNotEmpty();
    await().atMost(TIMEOUT).until(() -> server.metrics().sessions() == 1);
  }

  @Test
  void requestedTtlIsClampedToTheServersRange() {
    NameServer server = start(b -> b.maxSessionTtl(Duration.ofSeconds(20)));

    assertThat(connect(server).openSession("game", 5).block(TIMEOUT).getTtlMillis()).isEqualTo(100);
    assertThat(connect(server).openSession("game", 3_000).block(TIMEOUT).getTtlMillis())
        .isEqualTo(3_000);
    assertThat(connect(server).openSession("game", -1).block(TIMEOUT).getTtlMillis())
        .isEqualTo(20_000);
  }

  @Test
  void firstFrameOtherThanOpenSessionIsRefusedAndClosed() {
    NameServer server = start();
    TestClient client = connect(server);

    Status status =
        client.error(TestClient.register("game.a.b/1", "h:1", java.util.Map.of())).block(TIMEOUT);

    assertThat(status.getCode()).isEqualTo(StatusCode.FAILED_PRECONDITION);
    assertThat(status.getMessage()).contains("OpenSession").contains("Register");
    StepVerifier.create(client.connection().onDispose()).expectComplete().verify(TIMEOUT);
  }

  @Test
  void unknownProtocolVersionIsRefusedAndClosed() {
    NameServer server = start();
    TestClient client = connect(server);

    Status status =
        client
            .error(
                NameClientFrame.newBuilder()
                    .setOpenSession(
                        OpenSession.newBuilder().setProtocolVersion(2).setAppId("game")))
            .block(TIMEOUT);

    assertThat(status.getCode()).isEqualTo(StatusCode.FAILED_PRECONDITION);
    assertThat(status.getMessage()).contains("protocol_version 2");
    StepVerifier.create(client.connection().onDispose()).expectComplete().verify(TIMEOUT);
  }

  @Test
  void badAppIdIsRefused() {
    NameServer server = start();
    TestClient client = connect(server);

    Status status =
        client
            .error(
                NameClientFrame.newBuilder()
                    .setOpenSession(
                        OpenSession.newBuilder().setProtocolVersion(1).setAppId("ga.me")))
            .block(TIMEOUT);

    assertThat(status.getCode()).isEqualTo(StatusCode.INVALID_ARGUMENT);
    assertThat(status.getMessage()).contains("ga.me");
  }

  @Test
  void secondOpenSessionIsRefusedButTheSessionStays() {
    NameServer server = start();
    TestClient client = open(server, "game");

    Status status =
        client
            .error(
                NameClientFrame.newBuilder()
                    .setOpenSession(
                        OpenSession.newBuilder().setProtocolVersion(1).setAppId("game")))
            .block(TIMEOUT);

    assertThat(status.getCode()).isEqualTo(StatusCode.FAILED_PRECONDITION);
    assertThat(client.keepAlive().block(TIMEOUT)).isNotNull();
  }

  @Test
  void requestIdZeroIsRefusedAndClosesTheConnection() {
    NameServer server = start();
    TestClient client = open(server, "game");

    client
        .send(
            NameClientFrame.newBuilder()
                .setKeepAlive(io.skymesh.proto.KeepAlive.getDefaultInstance())
                .build())
        .block(TIMEOUT);

    StepVerifier.create(client.frames().filter(NameServerFrame::hasError))
        .assertNext(
            frame -> {
              assertThat(frame.getError().getRequestId()).isZero();
              assertThat(frame.getError().getStatus().getCode())
                  .isEqualTo(StatusCode.INVALID_ARGUMENT);
              assertThat(frame.getError().getStatus().getMessage()).contains("request_id 0");
            })
        .expectComplete()
        .verify(TIMEOUT);
  }

  @Test
  void emptyBodyIsInvalidAndTheSessionStays() {
    NameServer server = start();
    TestClient client = open(server, "game");

    Status status = client.error(NameClientFrame.newBuilder()).block(TIMEOUT);

    assertThat(status.getCode()).isEqualTo(StatusCode.INVALID_ARGUMENT);
    assertThat(client.keepAlive().block(TIMEOUT)).isNotNull();
  }

  @Test
  void silentSessionExpiresItsInstancesGoAndItsConnectionCloses() {
    NameServer server = start(b -> b.sessionTtl(Duration.ofMillis(300)));
    TestClient watcher = connect(server);
    watcher.openSession("game", 30_000).block(TIMEOUT);
    watcher.watchService(1, "game.zone1.lobby", 0).block(TIMEOUT);
    TestClient silent = connect(server);
    assertThat(silent.openSession("game", 0).block(TIMEOUT).getTtlMillis()).isEqualTo(300);

    silent.register("game.zone1.lobby/7", "127.0.0.1:7000").block(TIMEOUT);
    // ...and then nothing more from it, though its connection stays open.

    StepVerifier.create(watcher.events(1).skip(2).next())
        .assertNext(event -> assertRemoved(event, "game.zone1.lobby/7", "session expired"))
        .expectComplete()
        .verify(TIMEOUT);
    StepVerifier.create(silent.frames().filter(NameServerFrame::hasError))
        .assertNext(
            frame -> {
              assertThat(frame.getError().getRequestId()).isZero();
              assertThat(frame.getError().getStatus().getCode())
                  .isEqualTo(StatusCode.DEADLINE_EXCEEDED);
              assertThat(frame.getError().getStatus().getMessage()).contains("expired");
            })
        .expectComplete()
        .verify(TIMEOUT);
    StepVerifier.create(silent.connection().onDispose()).expectComplete().verify(TIMEOUT);
    assertThat(watcher.keepAlive().block(TIMEOUT)).isNotNull();
  }

  @Test
  void keepAliveKeepsTheSessionPastItsTtl() {
    NameServer server = start(b -> b.sessionTtl(Duration.ofMillis(1000)));
    TestClient client = open(server, "game");
    client.register("game.zone1.lobby/7", "127.0.0.1:7000").block(TIMEOUT);

    // One and a half TTLs' worth of KeepAlives, one every tenth of the TTL. A tick that comes while
    // a KeepAlive waits for its answer is dropped: without demand the interval would overflow.
    Flux.interval(Duration.ofMillis(100))
        .take(15)
        .onBackpressureDrop()
        .concatMap(tick -> client.keepAlive())
        .blockLast(TIMEOUT);

    assertThat(client.keepAlive().block(TIMEOUT)).isNotNull();
    await().atMost(TIMEOUT).until(() -> server.metrics().revision() == 1);
    assertThat(server.metrics().instances()).isOne();
    assertThat(server.metrics().sessions()).isOne();
  }

  @Test
  void connectionThatNeverOpensASessionIsClosedAfterTheTtl() {
    NameServer server = start(b -> b.sessionTtl(Duration.ofMillis(200)));
    TestClient client = connect(server);

    StepVerifier.create(client.frames())
        .assertNext(
            frame ->
                assertThat(frame.getError().getStatus().getCode())
                    .isEqualTo(StatusCode.DEADLINE_EXCEEDED))
        .expectComplete()
        .verify(TIMEOUT);
  }
}

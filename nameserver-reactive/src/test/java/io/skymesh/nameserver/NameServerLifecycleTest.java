package io.skymesh.nameserver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.StatusCode;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;

/** Starting, closing and restarting servers, and the builder's checks. */
class NameServerLifecycleTest extends NameServerTestSupport {

  @Test
  void startIsLazyAndBindsLoopbackOnAFreePort() {
    Mono<NameServer> starting = NameServer.builder().start();
    NameServer server = start();

    assertThat(server.address().getAddress().isLoopbackAddress()).isTrue();
    assertThat(server.port()).isPositive().isEqualTo(server.address().getPort());
    assertThat(server.revision()).isZero();
    assertThat(starting).isNotNull(); // nothing bound until subscribed
  }

  @Test
  void closeTellsSessionsAndClosesTheirConnections() {
    NameServer server = NameServer.builder().start().block(TIMEOUT);
    TestClient client = TestClient.open(server.port(), "game");
    track(client);

    StepVerifier.create(server.close()).expectComplete().verify(TIMEOUT);

    StepVerifier.create(client.frames().filter(NameServerFrame::hasError))
        .assertNext(
            frame -> {
              assertThat(frame.getError().getRequestId()).isZero();
              assertThat(frame.getError().getStatus().getCode()).isEqualTo(StatusCode.UNAVAILABLE);
            })
        .expectComplete()
        .verify(TIMEOUT);
    StepVerifier.create(client.connection().onDispose()).expectComplete().verify(TIMEOUT);
    // Idempotent, and onClose has completed.
    StepVerifier.create(server.close()).expectComplete().verify(TIMEOUT);
    StepVerifier.create(server.onClose()).expectComplete().verify(TIMEOUT);
  }

  @Test
  void closeDoesNotWaitForeverForAClientThatDoesNotRead() {
    NameServer server = NameServer.builder().watcherQueueLimit(16).start().block(TIMEOUT);
    TestClient client = track(TestClient.connect(server.port(), 4096));
    client.openSession("game", 0).block(TIMEOUT);
    client.pauseReading();

    StepVerifier.create(server.close()).expectComplete().verify(TIMEOUT);
    StepVerifier.create(client.connection().onDispose()).expectComplete().verify(TIMEOUT);
  }

  @Test
  void newServerCanBindThePortOfAClosedOne() {
    NameServer first = NameServer.builder().start().block(TIMEOUT);
    int port = first.port();
    TestClient client = track(TestClient.open(port, "game"));
    client.register("game.zone1.lobby/1", "127.0.0.1:7000").block(TIMEOUT);
    first.closeNow(TIMEOUT);
    StepVerifier.create(client.connection().onDispose()).expectComplete().verify(TIMEOUT);

    NameServer second = start(b -> b.port(port));

    assertThat(second.port()).isEqualTo(port);
    TestClient again = open(second, "game");
    assertThat(again.register("game.zone1.lobby/1", "127.0.0.1:7000").block(TIMEOUT).getRevision())
        .isOne();
  }

  @Test
  void bindingATakenPortFailsTheStart() {
    NameServer server = start();

    StepVerifier.create(NameServer.builder().port(server.port()).start())
        .expectError()
        .verify(TIMEOUT);
  }

  @Test
  void builderRefusesBadValuesNamingThem() {
    NameServerBuilder builder = NameServer.builder();

    assertThatThrownBy(() -> builder.port(70_000))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("port: 70000 (expected: 0..65535)");
    assertThatThrownBy(() -> builder.sessionTtl(Duration.ZERO))
        .hasMessageStartingWith("sessionTtl: PT0S (expected: 1ms..");
    assertThatThrownBy(() -> builder.watcherQueueLimit(1))
        .hasMessageStartingWith("watcherQueueLimit: 1 (expected: 4..");
    assertThatThrownBy(() -> builder.historyLimit(0))
        .hasMessageStartingWith("historyLimit: 0 (expected: 1..");
    assertThatThrownBy(() -> builder.maxFrameLength(0)).hasMessageStartingWith("maxFrameLength: 0");
    assertThatThrownBy(() -> builder.host(" ")).hasMessageStartingWith("host:");
    assertThatThrownBy(() -> builder.sessionTtl(Duration.ofMinutes(5)).start())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxSessionTtl");
  }
}

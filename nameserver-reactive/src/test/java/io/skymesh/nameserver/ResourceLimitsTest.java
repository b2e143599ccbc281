package io.skymesh.nameserver;

import static org.assertj.core.api.Assertions.assertThat;

import io.skymesh.nameserver.Principal.Role;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.OpenSession;
import io.skymesh.proto.Status;
import io.skymesh.proto.StatusCode;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.assertj.core.api.AbstractStringAssert;
import org.junit.jupiter.api.Test;
import reactor.test.StepVerifier;

/**
 * The limits on connections, sessions per principal, watches per session and requests per second:
 * each refuses with RESOURCE_EXHAUSTED and a message, and the rest of the server goes on.
 */
class ResourceLimitsTest extends NameServerTestSupport {

  @Test
  void aConnectionOverTheLimitIsRefusedAndTheOthersGoOn() {
    NameServer server = start(b -> b.maxConnections(2));
    TestClient first = open(server, "game");
    open(server, "game");

    assertConnectionRefused(server).startsWith("this name server holds 2 connections, its limit");
    first.register("game.zone1.lobby/1", "127.0.0.1:7001").block(TIMEOUT);
    // Published after the batch that answered: waited for.
    org.awaitility.Awaitility.await()
        .atMost(TIMEOUT)
        .untilAsserted(() -> assertThat(server.metrics().sessions()).isEqualTo(2));
  }

  @Test
  void aConnectionOverTheLimitOfItsAddressIsRefusedAndOneClosedMakesRoom() {
    NameServer server = start(b -> b.maxConnectionsPerAddress(2));
    TestClient first = open(server, "game");
    TestClient second = open(server, "game");

    assertConnectionRefused(server)
        .isEqualTo("this name server holds 2 connections from 127.0.0.1, its limit per address");
    first.register("game.zone1.lobby/1", "127.0.0.1:7001").block(TIMEOUT);

    // A closed connection gives its place back, once the server has seen it close.
    second.close();
    org.awaitility.Awaitility.await()
        .atMost(TIMEOUT)
        .untilAsserted(() -> assertThat(server.metrics().sessions()).isEqualTo(1));
    open(server, "game").register("game.zone1.lobby/2", "127.0.0.1:7002").block(TIMEOUT);
  }

  /**
   * Connects once more: the server's only frame is {@code RESOURCE_EXHAUSTED}, then it closes.
   *
   * @return the message, to check
   */
  private AbstractStringAssert<?> assertConnectionRefused(NameServer server) {
    List<NameServerFrame> frames = connect(server).frames().collectList().block(TIMEOUT);
    assertThat(frames)
        .singleElement()
        .satisfies(
            frame ->
                assertThat(frame.getError().getStatus().getCode())
                    .isEqualTo(StatusCode.RESOURCE_EXHAUSTED));
    return assertThat(frames.get(0).getError().getStatus().getMessage());
  }

  @Test
  void aPrincipalOverItsSessionsIsRefused() {
    Principal lobby = new Principal("lobby", "lobby-secret", Set.of(Role.SERVICE), Set.of("game"));
    NameServer server = start(b -> b.principal(lobby).maxSessionsPerPrincipal(2));
    List<TestClient> clients = new ArrayList<>();
    List<NameServerFrame> answers = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      TestClient client = connect(server);
      clients.add(client);
      answers.add(
          client
              .call(
                  NameClientFrame.newBuilder()
                      .setOpenSession(
                          OpenSession.newBuilder()
                              .setProtocolVersion(1)
                              .setAppId("game")
                              .setToken(lobby.token())))
              .block(TIMEOUT));
    }
    assertThat(answers.get(0).hasAck()).isTrue();
    assertThat(answers.get(1).hasAck()).isTrue();
    assertThat(answers.get(2).getError().getStatus())
        .satisfies(
            status -> {
              assertThat(status.getCode()).isEqualTo(StatusCode.RESOURCE_EXHAUSTED);
              assertThat(status.getMessage())
                  .isEqualTo("lobby has 2 open sessions, the name server's limit per principal");
            });
    // Once one closes, a new one opens.
    clients.get(0).close();
    org.awaitility.Awaitility.await().atMost(TIMEOUT).until(() -> server.metrics().sessions() == 1);
    TestClient again = connect(server);
    assertThat(
            again
                .call(
                    NameClientFrame.newBuilder()
                        .setOpenSession(
                            OpenSession.newBuilder()
                                .setProtocolVersion(1)
                                .setAppId("game")
                                .setToken(lobby.token())))
                .block(TIMEOUT)
                .hasAck())
        .isTrue();
  }

  @Test
  void aWatchOverTheSessionsLimitIsRefusedAndItsOtherWatchesGoOn() {
    NameServer server = start(b -> b.maxWatchesPerSession(2));
    TestClient client = open(server, "game");
    client.watchService(1, "game.zone1.lobby", 0).block(TIMEOUT);
    client.ack(TestClient.kvWatch(2, "game/", 0)).block(TIMEOUT);

    Status refused = client.error(TestClient.kvWatch(3, "chat/", 0)).block(TIMEOUT);

    assertThat(refused.getCode()).isEqualTo(StatusCode.RESOURCE_EXHAUSTED);
    assertThat(refused.getMessage())
        .isEqualTo(
            "this session has 2 watches, the name server's limit per session; unwatch one first");
    long added =
        client.register("game.zone1.lobby/1", "127.0.0.1:7001").block(TIMEOUT).getRevision();
    StepVerifier.create(client.events(1).filter(e -> e.getRevision() == added))
        .expectNextCount(1)
        .thenCancel()
        .verify(TIMEOUT);
  }

  @Test
  void requestsOverTheRateAreRefusedAndChangeNothing() {
    // At 5 a second with a second's worth at once, 50 requests sent together cannot all pass
    // unless answering them took 9 seconds; which ones pass is RequestRateTest's business.
    NameServer server = start(b -> b.maxRequestsPerSecond(5));
    TestClient client = open(server, "ops");
    long before = server.revision();
    List<NameServerFrame> answers =
        reactor.core.publisher.Flux.range(0, 50)
            .flatMapSequential(i -> client.call(TestClient.kvPut("ops/k" + i, "v")))
            .collectList()
            .block(TIMEOUT);

    long accepted = answers.stream().filter(NameServerFrame::hasAck).count();
    List<Status> refusals =
        answers.stream()
            .filter(NameServerFrame::hasError)
            .map(f -> f.getError().getStatus())
            .toList();
    assertThat(refusals).isNotEmpty().hasSize(50 - (int) accepted);
    assertThat(refusals)
        .allSatisfy(
            status -> {
              assertThat(status.getCode()).isEqualTo(StatusCode.RESOURCE_EXHAUSTED);
              assertThat(status.getMessage())
                  .isEqualTo(
                      "this session sent more than 5 requests a second, the name server's limit;"
                          + " this one was refused and changed nothing");
            });
    // Only the accepted ones wrote, and the session is still open.
    assertThat(server.revision() - before).isEqualTo(accepted);
    assertThat(server.counters().refusals(StatusCode.RESOURCE_EXHAUSTED))
        .isEqualTo(refusals.size());
    // Published after the batch that answered: waited for.
    org.awaitility.Awaitility.await()
        .atMost(TIMEOUT)
        .untilAsserted(() -> assertThat(server.metrics().sessions()).isEqualTo(1));
  }
}

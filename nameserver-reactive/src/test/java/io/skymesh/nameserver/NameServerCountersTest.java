package io.skymesh.nameserver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.skymesh.proto.HealthCheck;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.NameClientFrame.BodyCase;
import io.skymesh.proto.StatusCode;
import io.skymesh.proto.WatchEvent;
import java.util.EnumMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import reactor.test.StepVerifier;

/**
 * A scripted session against a real server: the counters, and the meters bound to them, hold
 * exactly the requests read, the errors answered and the events sent.
 */
class NameServerCountersTest extends NameServerTestSupport {

  private static NameClientFrame.Builder healthCheck() {
    return NameClientFrame.newBuilder().setHealthCheck(HealthCheck.getDefaultInstance());
  }

  @Test
  void countersAndMetersFollowAScriptedSession() {
    NameServer server = start();
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    new NameServerMeters(server).bindTo(registry);
    TestClient client = TestClient.connect(server.port());
    try {
      // Before any session: a health check is answered, and the connection stays usable.
      assertThat(client.ack(healthCheck()).block(TIMEOUT).getRevision())
          .isEqualTo(server.revision());
      client.openSession("game", 10_000).block(TIMEOUT);
      client.watchService(1, "game.zone1.lobby", 0).block(TIMEOUT);
      client.register("game.zone1.lobby/1", "127.0.0.1:7001").block(TIMEOUT);
      assertThat(
              client
                  .error(TestClient.register("game.zone1..lobby/2", "127.0.0.1:7002", Map.of()))
                  .block(TIMEOUT)
                  .getCode())
          .isEqualTo(StatusCode.INVALID_ARGUMENT);
      assertThat(
              client
                  .error(TestClient.register("game.zone1.lobby/3", "nowhere", Map.of()))
                  .block(TIMEOUT)
                  .getCode())
          .isEqualTo(StatusCode.INVALID_ARGUMENT);
      client.ack(TestClient.campaign("game.zone1.lobby/1")).block(TIMEOUT);
      client.ack(TestClient.resign("game.zone1.lobby/1")).block(TIMEOUT);
      long put = client.put("config/a", "1");
      assertThat(
              client.error(TestClient.kvPut("config/a", "2", put + 100)).block(TIMEOUT).getCode())
          .isEqualTo(StatusCode.FAILED_PRECONDITION);
      assertThat(client.get("config/missing").getFound()).isFalse();
      assertThat(client.error(TestClient.resign("game.zone9.none/1")).block(TIMEOUT).getCode())
          .isEqualTo(StatusCode.NOT_FOUND);
      client.ack(healthCheck()).block(TIMEOUT);

      // The watch saw its snapshot, the registration, and the leader's election and resignation.
      StepVerifier.create(client.events(1).take(4))
          .expectNextMatches(WatchEvent::hasSnapshot)
          .expectNextMatches(WatchEvent::hasInstanceAdded)
          .expectNextMatches(WatchEvent::hasLeaderChanged)
          .expectNextMatches(WatchEvent::hasLeaderChanged)
          .expectComplete()
          .verify(TIMEOUT);

      Map<BodyCase, Long> requests = new EnumMap<>(BodyCase.class);
      requests.put(BodyCase.HEALTH_CHECK, 2L);
      requests.put(BodyCase.OPEN_SESSION, 1L);
      requests.put(BodyCase.WATCH, 1L);
      requests.put(BodyCase.REGISTER, 3L);
      requests.put(BodyCase.CAMPAIGN, 1L);
      requests.put(BodyCase.RESIGN, 2L);
      requests.put(BodyCase.KV_PUT, 2L);
      requests.put(BodyCase.KV_GET, 1L);
      NameServerCounters counters = server.counters();
      for (BodyCase kind : BodyCase.values()) {
        long expected = requests.getOrDefault(kind, 0L);
        assertThat(counters.requests(kind)).as("requests of kind %s", kind).isEqualTo(expected);
        assertThat(
                registry
                    .get(NameServerMeters.PREFIX + "requests")
                    .tag("kind", NameServerMeters.kindTag(kind))
                    .functionCounter()
                    .count())
            .as("the requests meter of kind %s", kind)
            .isEqualTo(expected);
      }
      Map<StatusCode, Long> refusals =
          Map.of(
              StatusCode.INVALID_ARGUMENT, 2L,
              StatusCode.FAILED_PRECONDITION, 1L,
              StatusCode.NOT_FOUND, 1L);
      for (StatusCode code : StatusCode.values()) {
        if (code == StatusCode.OK || code == StatusCode.UNRECOGNIZED) {
          continue;
        }
        long expected = refusals.getOrDefault(code, 0L);
        assertThat(counters.refusals(code)).as("refusals with %s", code).isEqualTo(expected);
        assertThat(
                registry
                    .get(NameServerMeters.PREFIX + "refusals")
                    .tag("status", code.name())
                    .functionCounter()
                    .count())
            .as("the refusals meter of %s", code)
            .isEqualTo(expected);
      }
      // The events are counted when handed to the connection: by the time the client read them.
      await()
          .atMost(TIMEOUT)
          .untilAsserted(
              () ->
                  assertThat(
                          registry
                              .get(NameServerMeters.PREFIX + "events")
                              .functionCounter()
                              .count())
                      .isEqualTo(4.0));
      assertThat(counters.eventsSent()).isEqualTo(4);
    } finally {
      client.close();
    }
  }

  @Test
  void aClosingServerIsNotHealthy() {
    NameServer server = start();
    StepVerifier.create(server.checkHealth()).expectComplete().verify(TIMEOUT);
    server.closeNow(TIMEOUT);
    StepVerifier.create(server.checkHealth())
        .expectErrorSatisfies(
            error ->
                assertThat(error)
                    .hasMessageContaining("is closing")
                    .isInstanceOf(io.skymesh.core.exceptions.SkymeshException.class))
        .verify(TIMEOUT);
  }
}

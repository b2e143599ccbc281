package io.skymesh.mesh.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.within;

import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.MeshTimeoutException;
import io.skymesh.mesh.ServiceView;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.test.StepVerifier;

/** The recorder counts what is in flight and averages round trips. */
class PeerStatsRecorderTest {

  private static final Duration DEADLINE = Duration.ofSeconds(10);
  private static final ServiceUrl URL = ServiceUrl.parse("game.zone1.svc/1");

  @Test
  void recordCountsACallInFlightUntilItsReply() {
    PeerStatsRecorder stats = PeerStatsRecorder.create();
    Sinks.One<String> reply = Sinks.one();
    StepVerifier.create(stats.record(URL, reply.asMono()))
        .then(() -> assertThat(stats.inFlight(URL)).isEqualTo(1))
        .then(() -> reply.tryEmitValue("pong"))
        .expectNext("pong")
        .expectComplete()
        .verify(DEADLINE);
    assertThat(stats.inFlight(URL)).isZero();
    assertThat(stats.latencyNanos(URL)).isNotNaN().isGreaterThanOrEqualTo(0);
  }

  @Test
  void recordStopsCountingOnErrorAndOnCancelWithoutALatencySample() {
    PeerStatsRecorder stats = PeerStatsRecorder.create();
    StepVerifier.create(stats.record(URL, Mono.error(new IllegalStateException("boom"))))
        .expectError(IllegalStateException.class)
        .verify(DEADLINE);
    StepVerifier.create(stats.record(URL, Mono.never()))
        .then(() -> assertThat(stats.inFlight(URL)).isEqualTo(1))
        .thenCancel()
        .verify(DEADLINE);
    assertThat(stats.inFlight(URL)).isZero();
    assertThat(stats.latencyNanos(URL)).isNaN();
  }

  @Test
  void recordCountsATimeoutAsASlowSample() {
    PeerStatsRecorder stats = PeerStatsRecorder.create();
    stats.peer(URL).sample(1_000);
    StepVerifier.create(stats.record(URL, Mono.error(new MeshTimeoutException("late"))))
        .expectError(MeshTimeoutException.class)
        .verify(DEADLINE);
    assertThat(stats.inFlight(URL)).isZero();
    // At least twice the old average, weighted by a third: 1000 + (2000 - 1000) / 3.
    assertThat(stats.latencyNanos(URL)).isGreaterThanOrEqualTo(1_333);
  }

  @Test
  void recordIsLazyAndCountsEachSubscription() {
    PeerStatsRecorder stats = PeerStatsRecorder.create();
    Mono<String> call = stats.record(URL, Mono.never());
    assertThat(stats.inFlight(URL)).isZero();
    var first = call.subscribe();
    var second = call.subscribe();
    assertThat(stats.inFlight(URL)).isEqualTo(2);
    first.dispose();
    second.dispose();
    assertThat(stats.inFlight(URL)).isZero();
  }

  @Test
  void latencyIsAnExponentiallyWeightedMovingAverage() {
    PeerStatsRecorder stats = PeerStatsRecorder.create(0.5);
    assertThat(stats.latencyNanos(URL)).isNaN();
    stats.peer(URL).sample(100);
    assertThat(stats.latencyNanos(URL)).isEqualTo(100);
    stats.peer(URL).sample(200);
    assertThat(stats.latencyNanos(URL)).isEqualTo(150);
    stats.peer(URL).unanswered(10);
    // A slow sample: max(10, 2 × 150) = 300, so 150 + (300 - 150) / 2.
    assertThat(stats.latencyNanos(URL)).isCloseTo(225, within(1e-9));
    assertThatIllegalArgumentException().isThrownBy(() -> stats.peer(URL).sample(-1));
  }

  @Test
  void inFlightNeverGoesNegative() {
    PeerStatsRecorder stats = PeerStatsRecorder.create();
    stats.peer(URL).finished();
    assertThat(stats.inFlight(URL)).isZero();
  }

  @Test
  void retainForgetsOnlyDepartedInstancesOfThatService() {
    PeerStatsRecorder stats = PeerStatsRecorder.create();
    ServiceUrl staying = ServiceUrl.parse("game.zone1.svc/stay");
    ServiceUrl other = ServiceUrl.parse("game.zone1.other/1");
    PeerStatsRecorder.Peer leaving = stats.peer(URL);
    leaving.started();
    stats.peer(staying).started();
    stats.peer(other).started();

    stats.retain(Views.ofIds(List.of("stay"), 2));

    assertThat(stats.inFlight(URL)).isZero();
    assertThat(stats.inFlight(staying)).isEqualTo(1);
    assertThat(stats.inFlight(other)).isEqualTo(1);
    leaving.finished(); // a stale handle stays harmless
    assertThat(stats.inFlight(URL)).isZero();
    assertThat(ServiceView.empty(Views.SERVICE).isEmpty()).isTrue();
  }

  @Test
  void runningTotalsAgreeWithAScanThroughStartsFinishesSamplesAndDepartures() {
    PeerStatsRecorder stats = PeerStatsRecorder.create();
    ServiceView view = Views.of(20);
    ServiceView other = Views.of(io.skymesh.core.ServiceName.parse("game.zone1.other"), 5);
    // A scan over the same readings: the interface's defaults.
    PeerStats scanning =
        new PeerStats() {
          @Override
          public int inFlight(ServiceUrl url) {
            return stats.inFlight(url);
          }

          @Override
          public double latencyNanos(ServiceUrl url) {
            return stats.latencyNanos(url);
          }
        };
    java.util.Random random = new java.util.Random(7);
    for (int step = 0; step < 5_000; step++) {
      ServiceView target = random.nextInt(4) == 0 ? other : view;
      PeerStatsRecorder.Peer peer =
          stats.peer(target.instances().get(random.nextInt(target.size())).url());
      switch (random.nextInt(4)) {
        case 0, 1 -> peer.started();
        case 2 -> peer.finished(random.nextInt(1_000_000));
        default -> peer.unanswered(random.nextInt(5_000_000));
      }
      if (step % 1_000 == 999) {
        // Ten instances leave; those that come back start afresh.
        ServiceView smaller =
            ServiceView.of(view.serviceName(), view.instances().subList(10, 20), 2);
        stats.retain(smaller);
        assertThat(stats.totalInFlight(smaller)).isEqualTo(scanning.totalInFlight(smaller));
      }
      assertThat(stats.totalInFlight(view)).isEqualTo(scanning.totalInFlight(view));
      assertThat(stats.totalInFlight(other)).isEqualTo(scanning.totalInFlight(other));
      assertThat(stats.meanLatencyNanos(view))
          .isCloseTo(scanning.meanLatencyNanos(view), within(1.0));
      assertThat(stats.meanLatencyNanos(other))
          .isCloseTo(scanning.meanLatencyNanos(other), within(1.0));
    }
    assertThat(PeerStatsRecorder.create().meanLatencyNanos(view)).isNaN();
    assertThat(PeerStatsRecorder.create().totalInFlight(view)).isZero();
  }
}

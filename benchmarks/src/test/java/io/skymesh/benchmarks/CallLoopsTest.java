package io.skymesh.benchmarks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/** The steady driver of the throughput benchmarks: waiting for calls, draining, failing. */
class CallLoopsTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(30);

  @Test
  void aDrainReturnsOnlyOnceEveryCallStartedHasEnded() {
    AtomicLong subscribed = new AtomicLong();
    AtomicLong ended = new AtomicLong();
    // Calls that end on other threads, later than they start: some are in flight at every moment.
    CallLoops loops =
        CallLoops.steady(
            8,
            () ->
                Mono.fromCallable(ended::incrementAndGet)
                    .subscribeOn(Schedulers.parallel())
                    .doOnSubscribe(s -> subscribed.incrementAndGet()));

    loops.awaitEnded(500, TIMEOUT);
    assertThat(ended.get()).isGreaterThanOrEqualTo(500);
    loops.stopAndDrain(TIMEOUT);

    assertThat(ended.get()).isEqualTo(subscribed.get());
  }

  @Test
  void aFailedCallStopsTheLoopsAndFailsTheWait() {
    AtomicLong calls = new AtomicLong();
    CallLoops loops =
        CallLoops.steady(
            2,
            () ->
                calls.incrementAndGet() == 100
                    ? Mono.error(new IllegalArgumentException("call 100"))
                    : Mono.just(1).subscribeOn(Schedulers.parallel()));

    assertThatThrownBy(() -> loops.awaitEnded(Long.MAX_VALUE, TIMEOUT))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("a call failed")
        .hasRootCauseMessage("call 100");
    loops.stopAndDrain(TIMEOUT);
  }
}

package io.skymesh.mesh.internal.rpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.skymesh.core.exceptions.MeshTimeoutException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.core.publisher.SignalType;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Schedulers;
import reactor.test.StepVerifier;

class DeadlinesTest {

  private static final Duration DEADLINE = Duration.ofSeconds(10);
  private static final long LONG = TimeUnit.SECONDS.toNanos(30);

  private static MeshTimeoutException late() {
    return new MeshTimeoutException("late");
  }

  @Test
  void aValueBeforeTheDeadlineIsRelayedAndCompletes() {
    StepVerifier.create(Deadlines.within(Mono.just("hi"), LONG, DeadlinesTest::late))
        .expectNext("hi")
        .expectComplete()
        .verify(DEADLINE);
  }

  @Test
  void anErrorOrAnEmptySourceIsRelayed() {
    StepVerifier.create(
            Deadlines.within(
                Mono.error(new IllegalStateException("boom")), LONG, DeadlinesTest::late))
        .expectErrorMessage("boom")
        .verify(DEADLINE);
    StepVerifier.create(Deadlines.within(Mono.empty(), LONG, DeadlinesTest::late))
        .expectComplete()
        .verify(DEADLINE);
  }

  /** Keeps the calling thread busy (not asleep) for {@code millis}, as synchronous work does. */
  private static void work(long millis) {
    long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
    while (System.nanoTime() < until) {
      Thread.onSpinWait();
    }
  }

  @Test
  void aHandlersValueProducedDuringSubscribeIsRelayedEvenPastTheDeadline() {
    Mono<String> slowButSynchronous =
        Mono.fromSupplier(
            () -> {
              work(30);
              return "done";
            });

    StepVerifier.create(
            Deadlines.handling(
                slowButSynchronous, TimeUnit.MILLISECONDS.toNanos(5), DeadlinesTest::late))
        .expectNext("done")
        .expectComplete()
        .verify(DEADLINE);
  }

  @Test
  void aHandlersDeadlineSpentDuringSubscribeFailsAtOnceAndCancelsTheWork() {
    AtomicInteger cancelled = new AtomicInteger();
    Mono<String> slowToStart =
        Mono.<String>never().doOnSubscribe(s -> work(30)).doOnCancel(cancelled::incrementAndGet);
    AtomicReference<Throwable> failed = new AtomicReference<>();

    Deadlines.handling(slowToStart, TimeUnit.MILLISECONDS.toNanos(5), DeadlinesTest::late)
        .subscribe(value -> {}, failed::set);

    // Already failed when subscribe returns, on this thread: no timer was involved.
    assertThat(failed.get()).isInstanceOf(MeshTimeoutException.class);
    assertThat(cancelled).hasValue(1);
  }

  @Test
  void whenTheDeadlinePassesTheSourceIsCancelledAndTheCallerGetsTheError() {
    AtomicInteger cancelled = new AtomicInteger();
    Mono<String> never = Mono.<String>never().doOnCancel(cancelled::incrementAndGet);

    StepVerifier.create(
            Deadlines.within(never, TimeUnit.MILLISECONDS.toNanos(50), DeadlinesTest::late))
        .expectError(MeshTimeoutException.class)
        .verify(DEADLINE);
    assertThat(cancelled).hasValue(1);
  }

  @Test
  void cancellingTheCallerCancelsTheSourceAndNothingFollows() {
    AtomicInteger cancelled = new AtomicInteger();
    Sinks.One<String> source = Sinks.one();
    List<SignalType> seen = new CopyOnWriteArrayList<>();

    Deadlines.within(
            source.asMono().doOnCancel(cancelled::incrementAndGet),
            TimeUnit.MILLISECONDS.toNanos(50),
            DeadlinesTest::late)
        .doOnEach(signal -> seen.add(signal.getType()))
        .subscribe()
        .dispose();
    source.tryEmitValue("too late");

    assertThat(cancelled).hasValue(1);
    // The deadline would have fired after 50 ms: the caller hears nothing, then or now.
    StepVerifier.create(Mono.delay(Duration.ofMillis(200))).expectNextCount(1).verifyComplete();
    assertThat(seen).isEmpty();
  }

  @Test
  void aSourceFinishingAtTheDeadlineGivesExactlyOneOutcome() {
    int calls = 2_000;
    OutcomeCounter outcomes = new OutcomeCounter();
    for (int i = 0; i < calls; i++) {
      // The deadline ticks every 10 ms; the source answers after about as long.
      Mono<Integer> source =
          Mono.just(i).delayElement(Duration.ofMillis(i % 40), Schedulers.parallel());
      Deadlines.within(source, TimeUnit.MILLISECONDS.toNanos(10), DeadlinesTest::late)
          .subscribe(outcomes.subscriber());
    }

    await().atMost(DEADLINE).until(() -> outcomes.allEnded(calls));
    assertThat(outcomes.signals).hasValue(calls);
    assertThat(outcomes.otherErrors).hasValue(0);
    assertThat(outcomes.values.get()).isPositive();
    assertThat(outcomes.timeouts.get()).isPositive();
  }
}

package io.skymesh.mesh.internal.rpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.skymesh.core.exceptions.OverloadedException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Schedulers;
import reactor.test.StepVerifier;

class PeerLimiterTest {

  private static final Duration DEADLINE = Duration.ofSeconds(10);

  @Test
  void runsUpToTheCapQueuesUpToThePendingLimitAndRefusesTheRest() {
    PeerLimiter limiter = new PeerLimiter("peer", 2, 3);
    List<Sinks.One<Integer>> replies = new ArrayList<>();
    AtomicInteger started = new AtomicInteger();
    List<Disposable> calls = new ArrayList<>();
    AtomicInteger overloaded = new AtomicInteger();
    for (int i = 0; i < 10; i++) {
      Sinks.One<Integer> reply = Sinks.one();
      replies.add(reply);
      calls.add(
          limiter
              .run(
                  () -> {
                    started.incrementAndGet();
                    return reply.asMono();
                  })
              .subscribe(
                  null,
                  e -> {
                    if (e instanceof OverloadedException) {
                      overloaded.incrementAndGet();
                    }
                  }));
    }

    assertThat(started.get()).isEqualTo(2);
    assertThat(limiter.inFlight()).isEqualTo(2);
    assertThat(limiter.pending()).isEqualTo(3);
    assertThat(overloaded.get()).isEqualTo(5);

    calls.get(2).dispose(); // a waiting call leaves the queue
    assertThat(limiter.pending()).isEqualTo(2);

    replies.get(0).tryEmitValue(0); // a slot frees: the oldest live waiter (#3) starts
    assertThat(started.get()).isEqualTo(3);
    assertThat(limiter.pending()).isEqualTo(1);

    calls.get(1).dispose(); // cancelling a running call frees its slot too
    assertThat(started.get()).isEqualTo(4);
    assertThat(limiter.pending()).isZero();
    assertThat(limiter.inFlight()).isEqualTo(2);
  }

  @Property(tries = 50)
  void underConcurrencyTheCapHoldsAndEveryCallEndsOnce(
      @ForAll @IntRange(min = 1, max = 8) int maxInFlight,
      @ForAll @IntRange(min = 0, max = 16) int maxPending) {
    PeerLimiter limiter = new PeerLimiter("peer", maxInFlight, maxPending);
    AtomicInteger running = new AtomicInteger();
    AtomicInteger peak = new AtomicInteger();
    int calls = 200;

    StepVerifier.create(
            Flux.range(0, calls)
                .flatMap(
                    i ->
                        limiter
                            .run(
                                () ->
                                    Mono.fromCallable(
                                            () ->
                                                peak.accumulateAndGet(
                                                    running.incrementAndGet(), Math::max))
                                        .subscribeOn(Schedulers.parallel())
                                        // Before the terminal signal leaves the call, so the count
                                        // is down
                                        // before the limiter hands the slot on.
                                        .doOnTerminate(running::decrementAndGet))
                            .map(v -> 1)
                            .onErrorResume(OverloadedException.class, e -> Mono.just(0))
                            .subscribeOn(Schedulers.parallel()),
                    64)
                .count())
        .expectNext((long) calls)
        .expectComplete()
        .verify(DEADLINE);

    assertThat(peak.get()).isLessThanOrEqualTo(maxInFlight);
    assertThat(limiter.inFlight()).isZero();
    assertThat(limiter.pending()).isZero();
  }
}

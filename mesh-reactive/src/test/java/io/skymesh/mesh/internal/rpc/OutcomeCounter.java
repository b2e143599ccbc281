package io.skymesh.mesh.internal.rpc;

import io.skymesh.core.exceptions.MeshTimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.reactivestreams.Subscription;
import reactor.core.publisher.BaseSubscriber;

/**
 * Counts how many calls bounded by a deadline ended by a value, by their deadline or otherwise, and
 * every signal, for tests in which each call must end exactly once.
 */
final class OutcomeCounter {

  final AtomicInteger values = new AtomicInteger();
  final AtomicInteger timeouts = new AtomicInteger();
  final AtomicInteger otherErrors = new AtomicInteger();
  final AtomicInteger signals = new AtomicInteger();
  final AtomicInteger completions = new AtomicInteger();

  /** A subscriber of one call, counting here. */
  BaseSubscriber<Integer> subscriber() {
    return new BaseSubscriber<>() {
      @Override
      protected void hookOnSubscribe(Subscription subscription) {
        requestUnbounded();
      }

      @Override
      protected void hookOnNext(Integer value) {
        values.incrementAndGet();
        signals.incrementAndGet();
      }

      @Override
      protected void hookOnError(Throwable error) {
        (error instanceof MeshTimeoutException ? timeouts : otherErrors).incrementAndGet();
        signals.incrementAndGet();
      }

      @Override
      protected void hookOnComplete() {
        completions.incrementAndGet();
      }
    };
  }

  /** Whether every one of {@code calls} has ended, each value followed by its completion. */
  boolean allEnded(int calls) {
    return values.get() + timeouts.get() + otherErrors.get() == calls
        && completions.get() == values.get();
  }
}

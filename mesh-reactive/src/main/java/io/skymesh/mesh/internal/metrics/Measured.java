package io.skymesh.mesh.internal.metrics;

import io.skymesh.proto.StatusCode;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Mono;
import reactor.core.publisher.MonoOperator;
import reactor.util.context.Context;

/**
 * One operator that sees how a {@code Mono} ends, in place of {@code defer}, {@code doOnSuccess},
 * {@code doOnError} and {@code doFinally} with a holder for the outcome: on the request path, with
 * meters on, that chain cost four subscribers and as many lambdas per call, where this is one
 * subscriber. The outcome is the first terminal signal: {@code OK} for a value or an empty
 * completion, the error's status, or {@code CANCELLED}.
 *
 * @param <T> the value's type
 */
final class Measured<T> extends MonoOperator<T, T> {

  /** Told once how the subscription ended, and after how long. */
  interface Outcome {
    void ended(StatusCode code, long nanos);
  }

  private final Outcome outcome;

  Measured(Mono<? extends T> source, Outcome outcome) {
    super(source);
    this.outcome = outcome;
  }

  @Override
  public void subscribe(CoreSubscriber<? super T> actual) {
    source.subscribe(new MeasuredSubscriber<>(actual, outcome));
  }

  private static final class MeasuredSubscriber<T> implements CoreSubscriber<T>, Subscription {

    @SuppressWarnings("rawtypes")
    private static final AtomicIntegerFieldUpdater<MeasuredSubscriber> ENDED =
        AtomicIntegerFieldUpdater.newUpdater(MeasuredSubscriber.class, "ended");

    private final CoreSubscriber<? super T> actual;
    private final Outcome outcome;
    private final long start = System.nanoTime();
    private Subscription upstream;
    private volatile int ended;

    MeasuredSubscriber(CoreSubscriber<? super T> actual, Outcome outcome) {
      this.actual = actual;
      this.outcome = outcome;
    }

    @Override
    public Context currentContext() {
      return actual.currentContext();
    }

    @Override
    public void onSubscribe(Subscription s) {
      this.upstream = s;
      actual.onSubscribe(this);
    }

    @Override
    public void onNext(T value) {
      end(StatusCode.OK);
      actual.onNext(value);
    }

    @Override
    public void onError(Throwable error) {
      end(MeshMetrics.code(error));
      actual.onError(error);
    }

    @Override
    public void onComplete() {
      end(StatusCode.OK);
      actual.onComplete();
    }

    @Override
    public void request(long n) {
      upstream.request(n);
    }

    @Override
    public void cancel() {
      end(StatusCode.CANCELLED);
      upstream.cancel();
    }

    private void end(StatusCode code) {
      if (ended == 0 && ENDED.compareAndSet(this, 0, 1)) {
        outcome.ended(code, System.nanoTime() - start);
      }
    }
  }
}

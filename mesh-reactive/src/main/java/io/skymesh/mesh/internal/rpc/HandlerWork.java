package io.skymesh.mesh.internal.rpc;

import java.util.concurrent.atomic.AtomicReferenceFieldUpdater;
import org.jspecify.annotations.Nullable;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.Disposable;
import reactor.core.publisher.Operators;

/**
 * The subscriber of a handler's work, a call's or a stream's, that ends once: by the work's own
 * outcome ({@link #end()} in {@code onNext}, {@code onComplete} or {@code onError}) or by its
 * disposal (the caller's cancel, a close, an abort), whichever comes first; the loser is ignored.
 *
 * <p>A handler's deadline fires on a timer's thread while the caller's cancel is handled on the
 * event loop, so an outcome may follow a disposal: the caller wants no answer then, and the
 * handler's meter has counted the outcome already. Reactor's {@code BaseSubscriber} would drop such
 * an error through {@code Operators.onErrorDropped}, which logs it at ERROR level, and skips its
 * {@code hookFinally} when disposed before its subscription arrives; this does neither.
 *
 * @param <T> what the work emits
 */
abstract class HandlerWork<T> implements CoreSubscriber<T>, Disposable {

  @SuppressWarnings("rawtypes") // a field updater is made from the class, not a parameterized type
  private static final AtomicReferenceFieldUpdater<HandlerWork, Subscription> UPSTREAM =
      AtomicReferenceFieldUpdater.newUpdater(HandlerWork.class, Subscription.class, "upstream");

  /** What {@link #upstream} holds once the work has ended. */
  private static final Subscription ENDED = Operators.cancelledSubscription();

  /** The work's subscription; {@link #ENDED} once the work has ended. */
  private volatile @Nullable Subscription upstream;

  @Override
  public final void onSubscribe(Subscription subscription) {
    if (UPSTREAM.compareAndSet(this, null, subscription)) {
      started(subscription);
    } else {
      subscription.cancel(); // disposed before the work was subscribed
    }
  }

  /** The work is subscribed: ask it for what it may emit. */
  abstract void started(Subscription subscription);

  /** The work was disposed before it ended: give back what it held, once. */
  abstract void disposed();

  /**
   * Ends the work for its outcome; true the first time, when the caller acts on the outcome. An
   * outcome that comes after another (a reply's {@code onComplete} after its {@code onNext}) finds
   * the work ended with a plain read, no second atomic swap.
   */
  final boolean end() {
    return upstream != ENDED && UPSTREAM.getAndSet(this, ENDED) != ENDED;
  }

  /** Passes demand on to the work, once subscribed and until it has ended. */
  final void request(long n) {
    Subscription subscription = upstream;
    if (subscription != null && subscription != ENDED) {
      subscription.request(n);
    }
  }

  /** Cancels the work, if it has not ended, and runs {@link #disposed()} once. */
  @Override
  public final void dispose() {
    Subscription previous = upstream == ENDED ? ENDED : UPSTREAM.getAndSet(this, ENDED);
    if (previous != ENDED) {
      if (previous != null) {
        previous.cancel();
      }
      disposed();
    }
  }

  @Override
  public final boolean isDisposed() {
    return upstream == ENDED;
  }
}

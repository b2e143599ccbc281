package io.skymesh.mesh.internal.rpc;

import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;

/**
 * A subscriber of sends ({@code PeerConnection.send}, a {@code Mono<Void>}) that hears only their
 * failures: no value comes, no demand is needed, nothing is cancelled, and a written send has
 * nothing more to say (unless a subclass must free something then). A subclass is one object on the
 * hot path where a lambda subscriber would be two.
 */
abstract class SendFailureSubscriber implements CoreSubscriber<Void> {

  @Override
  public final void onSubscribe(Subscription subscription) {}

  @Override
  public final void onNext(Void value) {}

  @Override
  public void onComplete() {}

  /** A send failed. */
  @Override
  public abstract void onError(Throwable error);
}

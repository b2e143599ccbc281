package io.skymesh.mesh.internal.rpc;

import java.util.function.Consumer;

/**
 * The subscriber of every send of one stream: it hears only failures, and passes them on. One per
 * stream rather than a lambda subscriber per item (a stream sends an item per frame, and the sends'
 * {@code Mono<Void>} carry no value). Subscribed to many sends at once, which the sends allow: it
 * keeps no subscription, requests nothing (a {@code Mono<Void>} needs no demand) and never cancels.
 */
final class SendOutcome extends SendFailureSubscriber {

  private final Consumer<Throwable> onError;

  SendOutcome(Consumer<Throwable> onError) {
    this.onError = onError;
  }

  @Override
  public void onError(Throwable error) {
    onError.accept(error);
  }
}

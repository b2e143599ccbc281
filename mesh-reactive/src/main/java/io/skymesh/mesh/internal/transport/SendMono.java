package io.skymesh.mesh.internal.transport;

import reactor.core.CoreSubscriber;
import reactor.core.publisher.Mono;

/**
 * The lazy {@code Mono} of {@link PeerConnection#send}: each subscription queues the frame once.
 */
final class SendMono extends Mono<Void> {

  private final PeerChannel owner;
  private final OutboundFrame frame;

  SendMono(PeerChannel owner, OutboundFrame frame) {
    this.owner = owner;
    this.frame = frame;
  }

  @Override
  public void subscribe(CoreSubscriber<? super Void> actual) {
    owner.subscribeSend(frame, actual);
  }
}

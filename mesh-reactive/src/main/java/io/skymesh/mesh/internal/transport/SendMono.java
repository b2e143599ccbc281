package io.skymesh.mesh.internal.transport;

import io.skymesh.proto.PeerFrame;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Mono;

/**
 * The lazy {@code Mono} of {@link PeerConnection#send}: each subscription queues the frame once.
 */
final class SendMono extends Mono<Void> {

  private final PeerChannel owner;
  private final PeerFrame frame;

  SendMono(PeerChannel owner, PeerFrame frame) {
    this.owner = owner;
    this.frame = frame;
  }

  @Override
  public void subscribe(CoreSubscriber<? super Void> actual) {
    owner.subscribeSend(frame, actual);
  }
}

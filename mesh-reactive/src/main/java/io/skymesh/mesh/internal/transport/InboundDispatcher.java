package io.skymesh.mesh.internal.transport;

import reactor.core.publisher.Mono;

/**
 * Receives the frames peers send: {@code Data}, {@code Request}, {@code Response}, {@code Cancel}
 * and {@code GoAway}. ({@code Hello}, {@code Ping} and {@code Pong} are handled by the transport.)
 *
 * <p>Threading: called serially per connection, always on that connection's event loop, in the
 * order the frames arrived; never block. The next frame of the same connection is dispatched only
 * when the returned {@code Mono} completes, so the dispatcher paces reading: a dispatcher that
 * completes slowly makes the transport stop reading from the socket, which slows the sender down.
 * Return {@link Mono#empty()} when the frame is fully handled at once (the cheapest path). An
 * error, thrown or signalled, is logged and the connection goes on with the next frame.
 *
 * <p>With pooled payloads, an {@link InboundRequest}, {@link InboundResponse} or {@link
 * InboundData} may hold its payload in a pooled array: the dispatcher owns it from the call on and
 * releases it when done ({@code release()}).
 */
@FunctionalInterface
public interface InboundDispatcher {

  /**
   * Handles one frame.
   *
   * @param frame the frame and the connection it came on
   * @return completes when the connection may dispatch its next frame
   */
  Mono<Void> dispatch(InboundFrame frame);

  /**
   * Completes once every frame this dispatcher has taken from {@code connection} so far is fully
   * handled, not merely dispatched (a dispatcher may queue work and complete a frame's {@code Mono}
   * before it is done). The transport sends a {@code Ping}'s {@code Pong} only then. Called on the
   * connection's event loop. Default: at once.
   *
   * @param connection the connection
   * @return completes when handled
   */
  default Mono<Void> handled(PeerConnection connection) {
    return Mono.empty();
  }

  /** A dispatcher that drops every frame, for a transport that only sends. */
  static InboundDispatcher discarding() {
    return frame -> {
      InboundFrame.releaseDropped(frame.frame());
      return Mono.empty();
    };
  }
}

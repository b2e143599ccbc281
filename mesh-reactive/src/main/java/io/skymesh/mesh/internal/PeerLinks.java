package io.skymesh.mesh.internal;

import io.skymesh.proto.PeerFrame;
import java.time.Duration;
import java.util.function.Function;
import reactor.core.publisher.Mono;

/**
 * What the mesh needs of the peer transport: bind a listener, send a frame to a process by its
 * address, forget a process, close.
 */
interface PeerLinks {

  /**
   * Binds the listener; inbound frames go to {@code dispatcher}, whose {@code Mono} completing lets
   * the next frame of that connection be read.
   *
   * @return the address bound, {@code host:port}
   */
  Mono<String> bind(Function<PeerFrame, Mono<Void>> dispatcher);

  /**
   * Sends a frame to the process listening at {@code address}, connecting on first use.
   *
   * @return completes when written; {@code PeerUnavailableException} if unreachable
   */
  Mono<Void> send(String address, PeerFrame frame);

  /** Closes the connection to {@code address}, if any; the next send reconnects. */
  void release(String address);

  /** Says GoAway, lets queued frames drain for at most {@code timeout}, and closes. */
  Mono<Void> closeGracefully(Duration timeout);

  /** Closes every connection and the listener at once. */
  Mono<Void> close();
}

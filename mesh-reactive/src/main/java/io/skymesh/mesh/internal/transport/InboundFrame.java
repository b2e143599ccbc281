package io.skymesh.mesh.internal.transport;

import io.skymesh.proto.PeerFrame;
import java.util.Objects;

/**
 * A frame received from a peer, with the connection it came on, so that a reply can go back on the
 * same connection (which may be one the peer opened).
 *
 * @param frame the frame
 * @param connection the connection it arrived on
 */
public record InboundFrame(PeerFrame frame, PeerConnection connection) {

  /** Checks that both parts are present. */
  public InboundFrame {
    Objects.requireNonNull(frame, "frame");
    Objects.requireNonNull(connection, "connection");
  }
}

package io.skymesh.mesh.internal.transport;

import io.skymesh.proto.PeerFrame;
import java.util.Objects;

/**
 * A frame received from a peer, with the connection it came on, so that a reply can go back on the
 * same connection (which may be one the peer opened).
 *
 * @param frame the frame: an {@link InboundRequest}, an {@link InboundResponse}, an {@link
 *     InboundData}, or a {@code PeerFrame} of any other kind
 * @param connection the connection it arrived on
 */
public record InboundFrame(Object frame, PeerConnection connection) {

  /** Checks that both parts are present. */
  public InboundFrame {
    Objects.requireNonNull(frame, "frame");
    Objects.requireNonNull(connection, "connection");
  }

  /**
   * The frame as a generated {@code PeerFrame}, whatever its kind; for tests and tools, as a
   * request or a response is copied into new messages.
   */
  public PeerFrame peerFrame() {
    if (frame instanceof InboundRequest request) {
      return PeerFrame.newBuilder().setRequest(request.toProto()).build();
    }
    if (frame instanceof InboundResponse response) {
      return PeerFrame.newBuilder().setResponse(response.toProto()).build();
    }
    if (frame instanceof InboundData data) {
      return PeerFrame.newBuilder().setData(data.toProto()).build();
    }
    return (PeerFrame) frame;
  }

  /** The kind of frame this is on the wire. */
  public PeerFrame.BodyCase kind() {
    return kindOf(frame);
  }

  /**
   * Releases the pooled array holding a request's, response's or message's payload (pooled
   * payloads), for a frame dropped before its receiver had it; any other frame holds nothing to
   * release.
   */
  static void releaseDropped(Object frame) {
    if (frame instanceof InboundRequest request) {
      request.release();
    } else if (frame instanceof InboundResponse response) {
      response.release();
    } else if (frame instanceof InboundData data) {
      data.release();
    }
  }

  static PeerFrame.BodyCase kindOf(Object frame) {
    if (frame instanceof InboundRequest) {
      return PeerFrame.BodyCase.REQUEST;
    }
    if (frame instanceof InboundResponse) {
      return PeerFrame.BodyCase.RESPONSE;
    }
    if (frame instanceof InboundData) {
      return PeerFrame.BodyCase.DATA;
    }
    return ((PeerFrame) frame).getBodyCase();
  }
}

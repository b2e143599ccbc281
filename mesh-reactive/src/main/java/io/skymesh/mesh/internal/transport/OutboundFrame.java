package io.skymesh.mesh.internal.transport;

import com.google.protobuf.CodedOutputStream;
import io.skymesh.proto.PeerFrame;
import java.io.IOException;
import java.util.Objects;

/**
 * A frame to send: its kind, the length of its body, and how to write the body. Most frames are
 * protobuf {@code PeerFrame}s ({@link #of}); the busiest, {@code Request}, {@code Response} and
 * {@code Data}, are {@link OutboundRequest}, {@link OutboundResponse} and {@link OutboundData},
 * written by hand straight into the write buffer without building protobuf messages first. Either
 * way the bytes are a {@code PeerFrame}'s.
 */
public abstract class OutboundFrame {

  OutboundFrame() {}

  /**
   * A protobuf frame to send.
   *
   * @param frame the frame
   * @return it, ready for {@link PeerConnection#send(OutboundFrame)}
   */
  public static OutboundFrame of(PeerFrame frame) {
    return new Proto(frame);
  }

  /** The kind of frame this is on the wire. */
  public abstract PeerFrame.BodyCase kind();

  /** The length of the body in bytes, without the length prefix; computed once. */
  public abstract int bodyLength();

  /**
   * Writes the body ({@link #bodyLength()} bytes) to {@code out}.
   *
   * @param out where the body goes
   * @throws IOException if {@code out} has less room than the body needs
   */
  public abstract void writeBody(CodedOutputStream out) throws IOException;

  /**
   * The body as a new array: for a buffer that cannot be written through one stream, and for tests
   * and tools, which read it with {@code PeerFrame.parseFrom}.
   */
  public final byte[] toByteArray() {
    byte[] body = new byte[bodyLength()];
    CodedOutputStream out = CodedOutputStream.newInstance(body);
    try {
      writeBody(out);
      out.checkNoSpaceLeft();
    } catch (IOException e) {
      throw new IllegalStateException(kind() + " frame changed while being serialized", e);
    }
    return body;
  }

  /**
   * Whether the frame starts new work at the receiver (a {@code Data}, a {@code Request} or a
   * {@code StreamOpen}). After a {@code GoAway} only frames that finish work already started
   * (responses, stream frames, cancels, pongs) still go.
   */
  final boolean startsWork() {
    PeerFrame.BodyCase body = kind();
    return body == PeerFrame.BodyCase.DATA
        || body == PeerFrame.BodyCase.REQUEST
        || body == PeerFrame.BodyCase.STREAM_OPEN;
  }

  @Override
  public String toString() {
    return kind() + " frame of " + bodyLength() + " bytes";
  }

  /** A protobuf {@code PeerFrame}. */
  private static final class Proto extends OutboundFrame {

    private final PeerFrame frame;

    Proto(PeerFrame frame) {
      this.frame = Objects.requireNonNull(frame, "frame");
    }

    @Override
    public PeerFrame.BodyCase kind() {
      return frame.getBodyCase();
    }

    @Override
    public int bodyLength() {
      return frame.getSerializedSize();
    }

    @Override
    public void writeBody(CodedOutputStream out) throws IOException {
      frame.writeTo(out);
    }
  }
}

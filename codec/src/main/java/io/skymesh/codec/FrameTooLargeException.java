package io.skymesh.codec;

/** A frame's declared body length is over the configured maximum. */
public final class FrameTooLargeException extends FrameException {

  private static final long serialVersionUID = 1L;

  private final long frameLength;
  private final int maxFrameLength;

  /**
   * Creates the exception.
   *
   * @param frameLength the body length the frame declared, as an unsigned 32-bit value
   * @param maxFrameLength the largest body length allowed
   */
  public FrameTooLargeException(long frameLength, int maxFrameLength) {
    super("frame body of " + frameLength + " bytes is over the maximum of " + maxFrameLength);
    this.frameLength = frameLength;
    this.maxFrameLength = maxFrameLength;
  }

  /** The body length the frame declared, as an unsigned 32-bit value. */
  public long frameLength() {
    return frameLength;
  }

  /** The largest body length allowed. */
  public int maxFrameLength() {
    return maxFrameLength;
  }
}

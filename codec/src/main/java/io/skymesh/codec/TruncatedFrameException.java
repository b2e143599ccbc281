package io.skymesh.codec;

/** The connection ended in the middle of a frame. */
public final class TruncatedFrameException extends FrameException {

  private static final long serialVersionUID = 1L;

  private final int bytesPending;

  /**
   * Creates the exception.
   *
   * @param bytesPending how many bytes of the unfinished frame had arrived, length prefix included
   */
  public TruncatedFrameException(int bytesPending) {
    super("connection ended in the middle of a frame, " + bytesPending + " bytes into it");
    this.bytesPending = bytesPending;
  }

  /** How many bytes of the unfinished frame had arrived, length prefix included. */
  public int bytesPending() {
    return bytesPending;
  }
}

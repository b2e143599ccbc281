package io.skymesh.codec;

/** A frame's body is not a valid protobuf message of the expected type. */
public final class CorruptFrameException extends FrameException {

  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what was wrong
   * @param cause the parser's exception
   */
  public CorruptFrameException(String message, Throwable cause) {
    super(message, cause);
  }
}

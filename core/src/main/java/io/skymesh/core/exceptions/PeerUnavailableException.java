package io.skymesh.core.exceptions;

import io.skymesh.proto.StatusCode;

/**
 * A peer or the name server cannot be reached, or went away, or is shutting down. Status {@code
 * UNAVAILABLE}.
 */
public final class PeerUnavailableException extends SkymeshException {

  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what happened, for a developer
   */
  public PeerUnavailableException(String message) {
    super(StatusCode.UNAVAILABLE, message, null);
  }

  /**
   * Creates the exception with its cause.
   *
   * @param message what happened, for a developer
   * @param cause what caused it
   */
  public PeerUnavailableException(String message, Throwable cause) {
    super(StatusCode.UNAVAILABLE, message, cause);
  }
}

package io.skymesh.core.exceptions;

import io.skymesh.proto.StatusCode;

/** An operation did not complete in time. Status {@code DEADLINE_EXCEEDED}. */
public final class MeshTimeoutException extends SkymeshException {

  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what happened, for a developer
   */
  public MeshTimeoutException(String message) {
    super(StatusCode.DEADLINE_EXCEEDED, message, null);
  }

  /**
   * Creates the exception with its cause.
   *
   * @param message what happened, for a developer
   * @param cause what caused it
   */
  public MeshTimeoutException(String message, Throwable cause) {
    super(StatusCode.DEADLINE_EXCEEDED, message, cause);
  }
}

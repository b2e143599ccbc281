package io.skymesh.core.exceptions;

import io.skymesh.proto.StatusCode;

/**
 * A limit was hit: too many requests in flight, a queue full, a value too large. Status {@code
 * RESOURCE_EXHAUSTED}.
 */
public final class OverloadedException extends SkymeshException {

  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what happened, for a developer
   */
  public OverloadedException(String message) {
    super(StatusCode.RESOURCE_EXHAUSTED, message, null);
  }

  /**
   * Creates the exception with its cause.
   *
   * @param message what happened, for a developer
   * @param cause what caused it
   */
  public OverloadedException(String message, Throwable cause) {
    super(StatusCode.RESOURCE_EXHAUSTED, message, cause);
  }
}

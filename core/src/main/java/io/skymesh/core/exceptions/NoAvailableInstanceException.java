package io.skymesh.core.exceptions;

import io.skymesh.proto.StatusCode;

/** A router has no instance to pick: the service has no live member. Status {@code UNAVAILABLE}. */
public final class NoAvailableInstanceException extends SkymeshException {

  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what happened, for a developer
   */
  public NoAvailableInstanceException(String message) {
    super(StatusCode.UNAVAILABLE, message, null);
  }

  /**
   * Creates the exception with its cause.
   *
   * @param message what happened, for a developer
   * @param cause what caused it
   */
  public NoAvailableInstanceException(String message, Throwable cause) {
    super(StatusCode.UNAVAILABLE, message, cause);
  }
}

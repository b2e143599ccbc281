package io.skymesh.core.exceptions;

import io.skymesh.proto.StatusCode;

/** The ServiceUrl is already registered by a live instance. Status {@code ALREADY_EXISTS}. */
public final class AlreadyRegisteredException extends SkymeshException {

  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what happened, for a developer
   */
  public AlreadyRegisteredException(String message) {
    super(StatusCode.ALREADY_EXISTS, message, null);
  }

  /**
   * Creates the exception with its cause.
   *
   * @param message what happened, for a developer
   * @param cause what caused it
   */
  public AlreadyRegisteredException(String message, Throwable cause) {
    super(StatusCode.ALREADY_EXISTS, message, cause);
  }
}

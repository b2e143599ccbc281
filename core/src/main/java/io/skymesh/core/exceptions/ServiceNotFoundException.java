package io.skymesh.core.exceptions;

import io.skymesh.proto.StatusCode;

/** The destination instance or service is not alive in the mesh. Status {@code NOT_FOUND}. */
public final class ServiceNotFoundException extends SkymeshException {

  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what happened, for a developer
   */
  public ServiceNotFoundException(String message) {
    super(StatusCode.NOT_FOUND, message, null);
  }

  /**
   * Creates the exception with its cause.
   *
   * @param message what happened, for a developer
   * @param cause what caused it
   */
  public ServiceNotFoundException(String message, Throwable cause) {
    super(StatusCode.NOT_FOUND, message, cause);
  }
}

package io.skymesh.core.exceptions;

import io.skymesh.proto.StatusCode;

/**
 * The mesh, service or connection was closed while the operation was pending. Status {@code
 * CANCELLED}.
 */
public final class MeshClosedException extends SkymeshException {

  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what happened, for a developer
   */
  public MeshClosedException(String message) {
    super(StatusCode.CANCELLED, message, null);
  }

  /**
   * Creates the exception with its cause.
   *
   * @param message what happened, for a developer
   * @param cause what caused it
   */
  public MeshClosedException(String message, Throwable cause) {
    super(StatusCode.CANCELLED, message, cause);
  }
}

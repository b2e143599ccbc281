package io.skymesh.core.exceptions;

import io.skymesh.proto.StatusCode;

/**
 * The remote side answered with an error status that has no more specific exception here, for
 * example {@code UNIMPLEMENTED} or {@code INTERNAL}, or an application error from a handler.
 */
public final class RemoteException extends SkymeshException {

  private static final long serialVersionUID = 1L;

  private final String statusMessage;

  /**
   * Creates the exception.
   *
   * @param statusCode the status the remote sent; not {@code OK}
   * @param message the remote's message
   */
  public RemoteException(StatusCode statusCode, String message) {
    super(statusCode, statusCode + ": " + message, null);
    this.statusMessage = message;
  }

  /** The message as the status carried it, without the code in front. */
  public String statusMessage() {
    return statusMessage;
  }
}

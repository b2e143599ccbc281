package io.skymesh.core.exceptions;

import io.skymesh.proto.StatusCode;
import java.util.Objects;

/**
 * The base of every Skymesh error. Carries the canonical {@link StatusCode} it crosses the wire as.
 * Reactive methods deliver it as {@code onError}; they do not throw it.
 */
public abstract class SkymeshException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  private final StatusCode statusCode;

  SkymeshException(StatusCode statusCode, String message, Throwable cause) {
    super(message, cause);
    this.statusCode = Objects.requireNonNull(statusCode, "statusCode");
  }

  /** The status this error crosses the wire as. */
  public StatusCode statusCode() {
    return statusCode;
  }
}

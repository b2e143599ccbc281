package io.skymesh.nameserver.spi;

import io.skymesh.proto.StatusCode;
import java.util.Objects;

/**
 * A store's refusal or failure, with the wire status the server answers the request with: {@code
 * ALREADY_EXISTS} (a url live in another session), {@code NOT_FOUND} (the session holds no such
 * instance), {@code FAILED_PRECONDITION} (a compare-and-set whose mod revision does not match, or a
 * session that is gone), {@code UNAVAILABLE} (the store cannot be reached; the client may retry),
 * {@code INTERNAL}. Stores signal it as {@code onError}, never throw it from a method.
 */
public final class NameStoreException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  /** The status the request is answered with. */
  private final StatusCode code;

  /**
   * A refusal or failure.
   *
   * @param code the wire status, never {@code OK}
   * @param message what happened and what was expected, for the client
   */
  public NameStoreException(StatusCode code, String message) {
    super(message);
    this.code = Objects.requireNonNull(code, "code");
  }

  /**
   * A failure with its cause (typically {@code UNAVAILABLE} or {@code INTERNAL}).
   *
   * @param code the wire status, never {@code OK}
   * @param message what happened
   * @param cause the underlying failure
   */
  public NameStoreException(StatusCode code, String message, Throwable cause) {
    super(message, cause);
    this.code = Objects.requireNonNull(code, "code");
  }

  /**
   * The wire status the request is answered with.
   *
   * @return the status code
   */
  public StatusCode code() {
    return code;
  }
}

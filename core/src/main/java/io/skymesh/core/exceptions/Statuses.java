package io.skymesh.core.exceptions;

import io.skymesh.proto.Status;
import io.skymesh.proto.StatusCode;
import java.util.Objects;
import java.util.concurrent.TimeoutException;

/** The one place where wire statuses become typed exceptions, and exceptions become statuses. */
public final class Statuses {

  private Statuses() {}

  /**
   * The exception a non-OK status from the wire stands for.
   *
   * @param status a status that is not {@code OK}
   * @param context what was being done, prefixed to the message (for example the ServiceUrl)
   * @return the typed exception
   * @throws IllegalArgumentException if the status is {@code OK}
   */
  public static SkymeshException toException(Status status, String context) {
    Objects.requireNonNull(status, "status");
    String message = context.isEmpty() ? status.getMessage() : context + ": " + status.getMessage();
    return switch (status.getCode()) {
      case OK -> throw new IllegalArgumentException("status: OK (expected: an error)");
      case NOT_FOUND -> new ServiceNotFoundException(message);
      case ALREADY_EXISTS -> new AlreadyRegisteredException(message);
      case UNAVAILABLE -> new PeerUnavailableException(message);
      case DEADLINE_EXCEEDED -> new MeshTimeoutException(message);
      case CANCELLED -> new MeshClosedException(message);
      case RESOURCE_EXHAUSTED -> new OverloadedException(message);
      case ABORTED -> new NotLeaderException(message);
      default -> new RemoteException(status.getCode(), message);
    };
  }

  /**
   * The exception for a status code and message, for a request handler that fails with a status of
   * its choice: {@code Mono.error(Statuses.toException(StatusCode.INVALID_ARGUMENT, "no name"))}.
   * The caller receives the same code and message.
   *
   * @param code a code that is not {@code OK}
   * @param message the message
   * @return the typed exception, as {@link #toException(Status, String)} maps it
   * @throws IllegalArgumentException if the code is {@code OK}
   */
  public static SkymeshException toException(StatusCode code, String message) {
    Objects.requireNonNull(code, "code");
    Objects.requireNonNull(message, "message");
    return toException(Status.newBuilder().setCode(code).setMessage(message).build(), "");
  }

  /**
   * The status an error crosses the wire as: a {@link SkymeshException}'s own, {@code
   * INVALID_ARGUMENT} for an {@link IllegalArgumentException}, {@code DEADLINE_EXCEEDED} for a
   * {@link TimeoutException}, {@code UNKNOWN} for anything else.
   *
   * @param error the error
   * @return the status, with the error's message
   */
  public static Status toStatus(Throwable error) {
    Objects.requireNonNull(error, "error");
    StatusCode code;
    if (error instanceof SkymeshException skymesh) {
      code = skymesh.statusCode();
    } else if (error instanceof IllegalArgumentException) {
      code = StatusCode.INVALID_ARGUMENT;
    } else if (error instanceof TimeoutException) {
      code = StatusCode.DEADLINE_EXCEEDED;
    } else {
      code = StatusCode.UNKNOWN;
    }
    String message =
        error instanceof RemoteException remote
            ? remote.statusMessage()
            : error.getMessage() == null ? error.getClass().getName() : error.getMessage();
    return Status.newBuilder().setCode(code).setMessage(message).build();
  }
}

package io.skymesh.core.exceptions;

import io.skymesh.proto.StatusCode;

/**
 * Fencing: a leader-routed message or request carried a leadership term that its destination does
 * not hold (it no longer leads, never did, or knows a newer term). Status {@code ABORTED}, gRPC's
 * code for a failed sequencer check.
 */
public final class NotLeaderException extends SkymeshException {

  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what happened, naming the destination and both terms
   */
  public NotLeaderException(String message) {
    super(StatusCode.ABORTED, message, null);
  }
}

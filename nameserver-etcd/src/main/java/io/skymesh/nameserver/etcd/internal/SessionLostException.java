package io.skymesh.nameserver.etcd.internal;

/** etcd no longer keeps a session's lease: every instance and campaign under it is gone. */
public final class SessionLostException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  /**
   * A lost session.
   *
   * @param leaseId the session's lease
   * @param why why, for the message
   */
  public SessionLostException(long leaseId, String why) {
    super("session " + Long.toHexString(leaseId) + " lost: " + why);
  }
}

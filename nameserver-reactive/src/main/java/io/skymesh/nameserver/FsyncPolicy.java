package io.skymesh.nameserver;

/**
 * When the embedded store's data directory forces its log to the disk ({@code fsync}). Every policy
 * writes a change to the operating system before the change's {@code Ack} is sent, so an
 * acknowledged change survives the name server's process being killed ({@code kill -9}); they
 * differ in what survives the machine losing power. See {@link
 * NameServerBuilder#fsync(FsyncPolicy)}.
 */
public enum FsyncPolicy {
  /**
   * Forces every batch of log records to the disk before their Acks are sent (group commit: the
   * changes that arrive while one fsync runs share the next). An acknowledged change survives a
   * power loss. The default.
   */
  ALWAYS,

  /**
   * Forces the log at most once per {@link NameServerBuilder#fsyncInterval fsync interval}; Acks do
   * not wait for it. A power loss may lose the changes of the last interval.
   */
  INTERVAL,

  /** Never forces the log while running (only on close and snapshots); the OS decides. */
  NEVER
}

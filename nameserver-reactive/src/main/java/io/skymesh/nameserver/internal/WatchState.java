package io.skymesh.nameserver.internal;

/** One instance watch of a session. Confined to the writer. */
final class WatchState {

  final Session session;
  final long id;

  /** The canonical ServiceName watched, or null for a prefix watch. */
  final String serviceName;

  /** The ServiceName prefix watched, or null for a service watch. */
  final String prefix;

  /** The revision the client resumed from; 0 for a fresh watch. */
  final long fromRevision;

  /** Whether a frame of this watch has been handed to the connection. */
  boolean emittedAny;

  /**
   * Whether the watch waits for a snapshot: its first, or a resync after a gap. Live events are not
   * queued meanwhile; the snapshot, taken when there is room, includes them.
   */
  boolean pendingSnapshot;

  WatchState(Session session, long id, String serviceName, String prefix, long fromRevision) {
    this.session = session;
    this.id = id;
    this.serviceName = serviceName;
    this.prefix = prefix;
    this.fromRevision = fromRevision;
  }

  boolean matches(String changedServiceName) {
    return serviceName != null
        ? serviceName.equals(changedServiceName)
        : changedServiceName.startsWith(prefix);
  }

  /** Whether a snapshot sent now replaces something the client may already have. */
  boolean snapshotIsResync() {
    return fromRevision > 0 || emittedAny;
  }

  String target() {
    return serviceName != null ? "service " + serviceName : "prefix \"" + prefix + "\"";
  }
}

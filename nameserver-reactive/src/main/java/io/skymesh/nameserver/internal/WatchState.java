package io.skymesh.nameserver.internal;

import reactor.core.Disposable;

/**
 * One watch, of a session or of a store watch's flux: of instances and leaders (by service or
 * ServiceName prefix), or of KV keys (by key prefix). Confined to the writer.
 */
final class WatchState {

  /** Where its events go. */
  final WatchSink sink;

  final long id;

  /** The canonical ServiceName watched, or null for a prefix or KV watch. */
  final String serviceName;

  /** The ServiceName prefix (instance watch) or key prefix (KV watch), or null for a service. */
  final String prefix;

  /** Whether this is a KV watch. */
  final boolean kv;

  /** The revision the client resumed from; 0 for a fresh watch. */
  final long fromRevision;

  /** Whether a frame of this watch has been handed to the connection. */
  boolean emittedAny;

  /** The last frame emitted was a snapshot part with more to come: the rest must follow it. */
  boolean partsOpen;

  /**
   * Whether the watch waits for a snapshot: its first, or a resync after a gap. Live events are not
   * queued meanwhile; the snapshot, taken when there is room, includes them.
   */
  boolean pendingSnapshot;

  /**
   * Driven by a {@code NameStore}: the subscription to the store's watch, null while there is none.
   */
  Disposable storeSubscription;

  /** Counts the store subscriptions, so signals of a cancelled one are recognised and ignored. */
  int storeGeneration;

  /** Driven by a {@code NameStore}: the revision of the latest event queued for the client. */
  long delivered;

  /** Driven by a {@code NameStore}: the Watch request answered with its first signal, or 0. */
  long storeAckRequestId;

  /** Whether a {@code NameStore} drives this watch (it resumes from the store, not a snapshot). */
  boolean store;

  private WatchState(
      WatchSink sink, long id, String serviceName, String prefix, boolean kv, long fromRevision) {
    this.sink = sink;
    this.id = id;
    this.serviceName = serviceName;
    this.prefix = prefix;
    this.kv = kv;
    this.fromRevision = fromRevision;
  }

  /** An instance watch of one service ({@code prefix} null) or a ServiceName prefix. */
  static WatchState instances(
      WatchSink sink, long id, String serviceName, String prefix, long fromRevision) {
    return new WatchState(sink, id, serviceName, prefix, false, fromRevision);
  }

  /** A KV watch of the keys under {@code prefix}. */
  static WatchState kv(WatchSink sink, long id, String prefix, long fromRevision) {
    return new WatchState(sink, id, null, prefix, true, fromRevision);
  }

  /** Whether a change of a service (instance watch) or of a key (KV watch) concerns this watch. */
  boolean matches(String changed) {
    return serviceName != null ? serviceName.equals(changed) : changed.startsWith(prefix);
  }

  /** Whether the history's {@code change} concerns this watch. */
  boolean matches(History.Change change) {
    return kv == change.isKv() && matches(kv ? change.key() : change.serviceName());
  }

  /** Whether a snapshot sent now replaces something the client may already have. */
  boolean snapshotIsResync() {
    return fromRevision > 0 || emittedAny;
  }

  String target() {
    if (kv) {
      return "keys \"" + prefix + "\"*";
    }
    return serviceName != null ? "service " + serviceName : "prefix \"" + prefix + "\"";
  }
}

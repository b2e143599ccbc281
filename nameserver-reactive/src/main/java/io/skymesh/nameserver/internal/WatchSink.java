package io.skymesh.nameserver.internal;

/** Where a watch's events go: a session's bounded queue, or a store watch's flux. On the writer. */
interface WatchSink {

  /**
   * Delivers an instance, leader or KV event of {@code watch} (no watch id set); the same event may
   * go to many watches.
   */
  void offerEvent(WatchState watch, SharedEvent event);

  /** Makes {@code watch} get a snapshot of now: its first, or a resync. */
  void requestSnapshot(WatchState watch);
}

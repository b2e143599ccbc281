package io.skymesh.nameserver.internal;

import io.skymesh.proto.KvWatchEvent;
import io.skymesh.proto.WatchEvent;

/** Where a watch's events go: a session's bounded queue, or a store watch's flux. On the writer. */
interface WatchSink {

  /** Delivers an instance or leader event of {@code watch} (no watch id set). */
  void offerEvent(WatchState watch, WatchEvent event);

  /** Delivers a KV event of {@code watch} (no watch id set). */
  void offerKvEvent(WatchState watch, KvWatchEvent event);

  /** Makes {@code watch} get a snapshot of now: its first, or a resync. */
  void requestSnapshot(WatchState watch);
}

package io.skymesh.nameserver.internal;

import io.skymesh.proto.KvWatchEvent;
import io.skymesh.proto.WatchEvent;

/**
 * A watch event as published, without a watch id, offered to every watch it concerns: encoded once,
 * the first time a connection needs it, and the same bytes shared by every watch's frame ({@link
 * WatchFrame}), instead of a copy of the event built and encoded per watcher. Confined to the
 * writer.
 */
final class SharedEvent {

  private final WatchEvent event;
  private final KvWatchEvent kvEvent;
  private byte[] encoded;

  private SharedEvent(WatchEvent event, KvWatchEvent kvEvent) {
    this.event = event;
    this.kvEvent = kvEvent;
  }

  /** An instance or leader event. */
  static SharedEvent of(WatchEvent event) {
    return new SharedEvent(event, null);
  }

  /** A KV event. */
  static SharedEvent of(KvWatchEvent event) {
    return new SharedEvent(null, event);
  }

  /** Whether this is a KV event. */
  boolean kv() {
    return kvEvent != null;
  }

  /** The instance or leader event; null for a KV event. */
  WatchEvent event() {
    return event;
  }

  /** The KV event; null for an instance or leader event. */
  KvWatchEvent kvEvent() {
    return kvEvent;
  }

  /** The event's frame for the watch {@code watchId}, sharing this event's encoding. */
  WatchFrame frameFor(long watchId) {
    if (encoded == null) {
      encoded = kvEvent != null ? kvEvent.toByteArray() : event.toByteArray();
    }
    return new WatchFrame(kvEvent != null, watchId, encoded);
  }
}

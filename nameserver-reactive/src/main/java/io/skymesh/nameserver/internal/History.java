package io.skymesh.nameserver.internal;

import io.skymesh.proto.KvWatchEvent;
import io.skymesh.proto.WatchEvent;

/**
 * The most recent changes, one per revision, in a ring, so that a watch can resume from a revision.
 * Instance, leader and KV changes share the one revision sequence, so the ring holds both kinds.
 * Bounded twice: at most {@code limit} changes, and at most {@code bytesLimit} bytes of events
 * (their serialized size), the oldest dropped first; the newest change is always kept. Confined to
 * the writer.
 */
final class History {

  /**
   * One change: either an instance or leader change of a service, or a KV change of a key.
   *
   * @param revision the revision of the change
   * @param serviceName the canonical ServiceName the change concerns, or null for a KV change
   * @param event the instance watch event (no watch id), or null for a KV change
   * @param key the KV key the change concerns, or null for a service change
   * @param kvEvent the KV watch event (no watch id), or null for a service change
   */
  record Change(
      long revision, String serviceName, WatchEvent event, String key, KvWatchEvent kvEvent) {

    static Change service(String serviceName, WatchEvent event) {
      return new Change(event.getRevision(), serviceName, event, null, null);
    }

    static Change kv(String key, KvWatchEvent event) {
      return new Change(event.getRevision(), null, null, key, event);
    }

    boolean isKv() {
      return kvEvent != null;
    }

    /** What the change costs the history's byte bound: its event's serialized size. */
    int bytes() {
      return kvEvent != null ? kvEvent.getSerializedSize() : event.getSerializedSize();
    }
  }

  private final Change[] ring;
  private final int[] sizes;
  private final long bytesLimit;
  private long bytes;

  /** The oldest revision kept; {@code last + 1} when empty. */
  private long first;

  /** The newest revision kept, or the initial revision before any change. */
  private long last;

  History(int limit, long bytesLimit, long initialRevision) {
    this.ring = new Change[limit];
    this.sizes = new int[limit];
    this.bytesLimit = bytesLimit;
    this.last = initialRevision;
    this.first = initialRevision + 1;
  }

  /** Keeps {@code change}, the change of revision {@code last() + 1}, dropping the oldest. */
  void add(Change change) {
    long revision = change.revision();
    if (revision != last + 1) {
      throw new IllegalStateException(
          "history: revision " + revision + " after " + last + " (expected: " + (last + 1) + ")");
    }
    if (last - first + 1 == ring.length) {
      dropOldest();
    }
    int size = change.bytes();
    ring[slot(revision)] = change;
    sizes[slot(revision)] = size;
    bytes += size;
    last = revision;
    while (bytes > bytesLimit && first < last) {
      dropOldest();
    }
  }

  /** The serialized size of the changes kept, in bytes. */
  long bytes() {
    return bytes;
  }

  /** The number of changes kept. */
  int size() {
    return (int) (last - first + 1);
  }

  private void dropOldest() {
    int slot = slot(first);
    bytes -= sizes[slot];
    ring[slot] = null;
    sizes[slot] = 0;
    first++;
  }

  /** Whether every change after {@code revision} up to now is kept. */
  boolean covers(long revision) {
    return revision >= first - 1 && revision <= last;
  }

  /** The change of {@code revision}, which {@link #covers} must include. */
  Change get(long revision) {
    return ring[slot(revision)];
  }

  private int slot(long revision) {
    return (int) (revision % ring.length);
  }
}

package io.skymesh.nameserver.internal;

import io.skymesh.proto.WatchEvent;

/**
 * The most recent changes, one per revision, in a ring, so that a watch can resume from a revision.
 * Confined to the writer.
 */
final class History {

  /**
   * One change: the event (with watch id 0) and the service it concerns.
   *
   * @param serviceName the canonical ServiceName of the instance that changed
   * @param event the event, with its revision set and no watch id
   */
  record Change(String serviceName, WatchEvent event) {}

  private final Change[] ring;

  /** The oldest revision kept; {@code last + 1} when empty. */
  private long first;

  /** The newest revision kept, or the initial revision before any change. */
  private long last;

  History(int limit, long initialRevision) {
    this.ring = new Change[limit];
    this.last = initialRevision;
    this.first = initialRevision + 1;
  }

  /** Keeps {@code change}, the change of revision {@code last() + 1}, dropping the oldest. */
  void add(Change change) {
    long revision = change.event().getRevision();
    if (revision != last + 1) {
      throw new IllegalStateException(
          "history: revision " + revision + " after " + last + " (expected: " + (last + 1) + ")");
    }
    ring[slot(revision)] = change;
    last = revision;
    if (last - first + 1 > ring.length) {
      first = last - ring.length + 1;
    }
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

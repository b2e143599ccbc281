package io.skymesh.nameserver.internal;

/**
 * The one revision counter every change takes its revision from. With a data directory it hands out
 * revisions only under a ceiling logged ahead of them, so a restart never reuses one. Confined to
 * the writer, except {@link #published()}.
 */
final class Revisions {

  /** How far the durable revision ceiling runs ahead of the revisions handed out. */
  static final long BLOCK = 10_000;

  private final DataLog dataLog;
  private long current;
  private long ceiling;

  /** The revision, for other threads; written as soon as a change is applied. */
  private volatile long published;

  /**
   * @param start the revision before the first change
   * @param dataLog the data directory's log, or null in memory
   * @param ceiling the durable ceiling (with a data directory)
   */
  Revisions(long start, DataLog dataLog, long ceiling) {
    this.current = start;
    this.published = start;
    this.dataLog = dataLog;
    this.ceiling = ceiling;
  }

  /** The revision of the latest change. */
  long current() {
    return current;
  }

  /** Any thread. The revision of the latest change applied. */
  long published() {
    return published;
  }

  /** The durable ceiling (0 in memory). */
  long ceiling() {
    return ceiling;
  }

  /** Takes the next revision, raising the durable ceiling ahead of it when it comes close. */
  long next() {
    published = ++current;
    if (dataLog != null && current > ceiling - BLOCK / 2) {
      ceiling = current + BLOCK;
      dataLog.revisionCeilingRaised(ceiling);
    }
    return current;
  }
}

package io.skymesh.nameserver.internal;

/**
 * A session's request rate limit: a rate with a burst of one second's worth, as the generic cell
 * rate algorithm keeps it (one timestamp, no refill task). Used by the writer thread only.
 */
final class RequestRate {

  private final long nanosPerRequest;
  private final long burstNanos;
  private long next;

  /**
   * A limit of {@code perSecond} requests a second, a second's worth at once.
   *
   * @param perSecond the rate; 0 for no limit
   */
  RequestRate(int perSecond) {
    this.nanosPerRequest = perSecond == 0 ? 0 : Math.max(1, 1_000_000_000L / perSecond);
    this.burstNanos = perSecond == 0 ? 0 : (perSecond - 1L) * nanosPerRequest;
  }

  /** Takes one request's room at {@code nowNanos}; false (nothing taken) if there is none. */
  boolean tryAcquire(long nowNanos) {
    if (nanosPerRequest == 0) {
      return true;
    }
    long due = next - nowNanos > 0 ? next : nowNanos;
    if (due - nowNanos > burstNanos) {
      return false;
    }
    next = due + nanosPerRequest;
    return true;
  }
}

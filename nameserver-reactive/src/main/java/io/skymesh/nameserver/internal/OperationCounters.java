package io.skymesh.nameserver.internal;

import io.skymesh.nameserver.NameServerCounters;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.StatusCode;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The server's counters. Only the writer thread counts, so an increment is a plain read and an
 * ordered write, no compare-and-set; readers on other threads see each count soon after.
 */
final class OperationCounters implements NameServerCounters {

  private final AtomicLongArray requests =
      new AtomicLongArray(NameClientFrame.BodyCase.values().length);
  private final AtomicLongArray refusals = new AtomicLongArray(StatusCode.values().length);
  private final AtomicLong events = new AtomicLong();

  @Override
  public long requests(NameClientFrame.BodyCase kind) {
    return requests.get(kind.ordinal());
  }

  @Override
  public long refusals(StatusCode code) {
    return code == StatusCode.UNRECOGNIZED ? 0 : refusals.get(code.ordinal());
  }

  @Override
  public long eventsSent() {
    return events.get();
  }

  /** Writer thread only. */
  void requestRead(NameClientFrame.BodyCase kind) {
    int i = kind.ordinal();
    requests.lazySet(i, requests.get(i) + 1);
  }

  /** Writer thread only. */
  void refused(StatusCode code) {
    if (code != StatusCode.UNRECOGNIZED) {
      int i = code.ordinal();
      refusals.lazySet(i, refusals.get(i) + 1);
    }
  }

  /** Writer thread only. */
  void eventsSent(int count) {
    events.lazySet(events.get() + count);
  }
}

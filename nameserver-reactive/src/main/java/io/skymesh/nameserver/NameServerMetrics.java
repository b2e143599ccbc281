package io.skymesh.nameserver;

/**
 * A point-in-time view of a running name server's counters, published by its writer after every
 * batch of work it does. Reading it never waits for the writer.
 *
 * @param sessions open sessions (connections that sent a successful OpenSession and have not ended)
 * @param connections every connection the server holds, sessions and not-yet-opened ones
 * @param instances live instances
 * @param watches active watches (instance and KV), summed over every session
 * @param revision the current revision: the revision of the latest change
 * @param queuedFrames frames waiting in the sessions' outbound queues now (answers and events not
 *     yet handed to their connection), summed over every session
 * @param peakQueuedFrames the largest number of frames one session's outbound queue has held since
 *     the server started; never more than the configured {@code watcherQueueLimit}
 * @param resyncs how many times a watch overflowed its session's queue and was switched to a resync
 *     snapshot
 */
public record NameServerMetrics(
    int sessions,
    int connections,
    int instances,
    int watches,
    long revision,
    long queuedFrames,
    int peakQueuedFrames,
    long resyncs) {

  /** The metrics of a server that has done nothing yet. */
  public static final NameServerMetrics EMPTY = new NameServerMetrics(0, 0, 0, 0, 0, 0, 0, 0);
}

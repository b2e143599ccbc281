package io.skymesh.nameserver.internal;

import io.skymesh.proto.KvWatchEvent;
import io.skymesh.proto.WatchEvent;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches and history: every watch of every session, indexed by what it covers, and the recent
 * changes a resuming watch replays. Each change is published here once, recorded in the history and
 * offered to the watches it concerns. Confined to the writer.
 */
final class Watches {

  private static final Logger log = LoggerFactory.getLogger(Watches.class);

  private final History history;
  private final Map<String, List<WatchState>> serviceWatches = new HashMap<>();
  private final List<WatchState> prefixWatches = new ArrayList<>();
  private final List<WatchState> kvWatches = new ArrayList<>();
  private int count;

  Watches(History history) {
    this.history = history;
  }

  /** The number of watches. */
  int count() {
    return count;
  }

  /** Indexes a new watch. */
  void add(WatchState watch) {
    if (watch.kv) {
      kvWatches.add(watch);
    } else if (watch.serviceName != null) {
      serviceWatches.computeIfAbsent(watch.serviceName, name -> new ArrayList<>()).add(watch);
    } else {
      prefixWatches.add(watch);
    }
    count++;
  }

  /** Forgets a watch's index entry. */
  void remove(WatchState watch) {
    if (watch.kv) {
      kvWatches.remove(watch);
    } else if (watch.serviceName != null) {
      List<WatchState> list = serviceWatches.get(watch.serviceName);
      if (list != null && list.remove(watch) && list.isEmpty()) {
        serviceWatches.remove(watch.serviceName);
      }
    } else {
      prefixWatches.remove(watch);
    }
    count--;
  }

  /**
   * Sends a new watch what it needs first: the history after its {@code fromRevision} when the
   * history still has it, otherwise a snapshot (a resync if it resumed).
   */
  void catchUp(WatchState watch, long currentRevision) {
    WatchSink sink = watch.sink;
    long from = watch.fromRevision;
    if (from == 0 || !history.covers(from)) {
      if (from != 0) {
        log.debug(
            "{} watch {} resumes from revision {}, outside the history; resyncing",
            sink,
            watch.id,
            from);
      }
      sink.requestSnapshot(watch);
      return;
    }
    for (long next = from + 1; next <= currentRevision && !watch.pendingSnapshot; next++) {
      History.Change change = history.get(next);
      if (watch.matches(change)) {
        sink.offerEvent(
            watch, watch.kv ? SharedEvent.of(change.kvEvent()) : SharedEvent.of(change.event()));
      }
    }
  }

  /**
   * Records an instance or leader change of a service and offers it to every watch of it, as one
   * {@link SharedEvent}: encoded once for all of them.
   */
  void publish(String serviceName, WatchEvent event) {
    history.add(History.Change.service(serviceName, event));
    SharedEvent shared = SharedEvent.of(event);
    List<WatchState> exact = serviceWatches.get(serviceName);
    if (exact != null) {
      for (WatchState watch : exact) {
        watch.sink.offerEvent(watch, shared);
      }
    }
    for (WatchState watch : prefixWatches) {
      if (watch.matches(serviceName)) {
        watch.sink.offerEvent(watch, shared);
      }
    }
  }

  /** Records a KV change and offers it to every KV watch that matches, as one shared event. */
  void publishKv(String key, KvWatchEvent event) {
    history.add(History.Change.kv(key, event));
    SharedEvent shared = SharedEvent.of(event);
    for (WatchState watch : kvWatches) {
      if (watch.matches(key)) {
        watch.sink.offerEvent(watch, shared);
      }
    }
  }
}

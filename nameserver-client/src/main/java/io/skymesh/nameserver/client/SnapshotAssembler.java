package io.skymesh.nameserver.client;

import io.skymesh.proto.KvSnapshot;
import io.skymesh.proto.KvWatchEvent;
import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.Snapshot;
import io.skymesh.proto.WatchEvent;
import java.util.HashMap;
import java.util.Map;

/**
 * Joins the parts of a snapshot the server split because it was too large for one frame ({@code
 * Snapshot.continued}), so the connection's owner only ever sees whole snapshots. One per
 * connection, used on its event loop only.
 */
final class SnapshotAssembler {

  private final Map<Long, WatchEvent.Builder> watches = new HashMap<>();
  private final Map<Long, KvWatchEvent.Builder> kvWatches = new HashMap<>();

  /**
   * Takes one event frame.
   *
   * @return the frame to deliver (itself, or a whole snapshot once its last part came), or null
   *     while parts are missing
   * @throws IllegalStateException when another event of a watch comes between a snapshot's parts
   */
  NameServerFrame offer(NameServerFrame frame) {
    if (frame.hasWatchEvent()) {
      WatchEvent event = frame.getWatchEvent();
      WatchEvent.Builder pending = watches.get(event.getWatchId());
      if (pending == null) {
        if (!event.getSnapshot().getContinued()) {
          return frame;
        }
        watches.put(event.getWatchId(), event.toBuilder());
        return null;
      }
      Snapshot part = event.getSnapshot();
      if (!event.hasSnapshot() || event.getRevision() != pending.getRevision()) {
        throw new IllegalStateException(
            "watch " + event.getWatchId() + ": an event came between the parts of a snapshot");
      }
      pending
          .getSnapshotBuilder()
          .addAllInstances(part.getInstancesList())
          .addAllLeaders(part.getLeadersList())
          .setContinued(part.getContinued());
      if (part.getContinued()) {
        return null;
      }
      watches.remove(event.getWatchId());
      return NameServerFrame.newBuilder().setWatchEvent(pending).build();
    }
    KvWatchEvent event = frame.getKvWatchEvent();
    KvWatchEvent.Builder pending = kvWatches.get(event.getWatchId());
    if (pending == null) {
      if (!event.getSnapshot().getContinued()) {
        return frame;
      }
      kvWatches.put(event.getWatchId(), event.toBuilder());
      return null;
    }
    KvSnapshot part = event.getSnapshot();
    if (!event.hasSnapshot() || event.getRevision() != pending.getRevision()) {
      throw new IllegalStateException(
          "KV watch " + event.getWatchId() + ": an event came between the parts of a snapshot");
    }
    pending
        .getSnapshotBuilder()
        .addAllEntries(part.getEntriesList())
        .setContinued(part.getContinued());
    if (part.getContinued()) {
      return null;
    }
    kvWatches.remove(event.getWatchId());
    return NameServerFrame.newBuilder().setKvWatchEvent(pending).build();
  }
}

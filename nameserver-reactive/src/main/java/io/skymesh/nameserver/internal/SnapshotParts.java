package io.skymesh.nameserver.internal;

import com.google.protobuf.CodedOutputStream;
import io.skymesh.proto.Instance;
import io.skymesh.proto.KvEntry;
import io.skymesh.proto.KvSnapshot;
import io.skymesh.proto.KvWatchEvent;
import io.skymesh.proto.Leader;
import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.Snapshot;
import io.skymesh.proto.WatchEvent;
import java.util.ArrayList;
import java.util.List;

/**
 * Splits a snapshot too large for one frame into parts that each fit, marked {@code continued} but
 * the last (see {@code Snapshot.continued} in the protocol). Each part holds whole instances or
 * entries, at least one; the leaders go in the last part. An instance is bounded by the server's
 * maximum instance size and an entry by its maximum value size, both well under a frame, so every
 * part fits.
 */
final class SnapshotParts {

  /** Room for a part's event, watch id, revision and flags around its instances. */
  private static final int OVERHEAD = 64;

  private SnapshotParts() {}

  /** Whether {@code frame} is a snapshot over {@code maxPartBytes} that must be split. */
  static boolean tooLarge(NameServerFrame frame, int maxPartBytes) {
    return (frame.hasWatchEvent() && frame.getWatchEvent().hasSnapshot()
            || frame.hasKvWatchEvent() && frame.getKvWatchEvent().hasSnapshot())
        && frame.getSerializedSize() > maxPartBytes;
  }

  /** The parts of a snapshot frame, in order; each at most {@code maxPartBytes} encoded. */
  static List<NameServerFrame> split(NameServerFrame frame, int maxPartBytes) {
    return frame.hasWatchEvent()
        ? split(frame.getWatchEvent(), maxPartBytes)
        : split(frame.getKvWatchEvent(), maxPartBytes);
  }

  private static List<NameServerFrame> split(WatchEvent event, int maxPartBytes) {
    Snapshot whole = event.getSnapshot();
    int leadersBytes = 0;
    for (Leader leader : whole.getLeadersList()) {
      leadersBytes += sized(leader.getSerializedSize());
    }
    List<NameServerFrame> parts = new ArrayList<>();
    Snapshot.Builder part = Snapshot.newBuilder().setResync(whole.getResync());
    int budget = maxPartBytes - OVERHEAD;
    int used = 0;
    for (Instance instance : whole.getInstancesList()) {
      int size = sized(instance.getSerializedSize());
      if (part.getInstancesCount() > 0 && used + size > budget) {
        parts.add(watchFrame(event, part.setContinued(true)));
        part = Snapshot.newBuilder().setResync(whole.getResync());
        used = 0;
      }
      part.addInstances(instance);
      used += size;
    }
    if (part.getInstancesCount() > 0 && used + leadersBytes > budget) {
      parts.add(watchFrame(event, part.setContinued(true)));
      part = Snapshot.newBuilder().setResync(whole.getResync());
    }
    parts.add(watchFrame(event, part.addAllLeaders(whole.getLeadersList())));
    return parts;
  }

  private static List<NameServerFrame> split(KvWatchEvent event, int maxPartBytes) {
    KvSnapshot whole = event.getSnapshot();
    List<NameServerFrame> parts = new ArrayList<>();
    KvSnapshot.Builder part = KvSnapshot.newBuilder().setResync(whole.getResync());
    int budget = maxPartBytes - OVERHEAD;
    int used = 0;
    for (KvEntry entry : whole.getEntriesList()) {
      int size = sized(entry.getSerializedSize());
      if (part.getEntriesCount() > 0 && used + size > budget) {
        parts.add(kvFrame(event, part.setContinued(true)));
        part = KvSnapshot.newBuilder().setResync(whole.getResync());
        used = 0;
      }
      part.addEntries(entry);
      used += size;
    }
    parts.add(kvFrame(event, part));
    return parts;
  }

  /** The encoded size of a repeated message field's element: tag, length and body. */
  private static int sized(int bodyBytes) {
    return 1 + CodedOutputStream.computeUInt32SizeNoTag(bodyBytes) + bodyBytes;
  }

  private static NameServerFrame watchFrame(WatchEvent event, Snapshot.Builder part) {
    return NameServerFrame.newBuilder().setWatchEvent(event.toBuilder().setSnapshot(part)).build();
  }

  private static NameServerFrame kvFrame(KvWatchEvent event, KvSnapshot.Builder part) {
    return NameServerFrame.newBuilder()
        .setKvWatchEvent(event.toBuilder().setSnapshot(part))
        .build();
  }
}

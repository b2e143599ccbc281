package io.skymesh.nameserver.internal;

import com.google.protobuf.ByteString;
import io.skymesh.proto.KvEntry;
import io.skymesh.proto.KvWatchEvent;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * KV config: entries by key with create and mod revisions. Every put and every deleted key takes a
 * revision, is published to the watches and, with a data directory, appended to the log; the
 * methods that change something return the log record's sequence number (0 in memory), which the
 * dispatch holds the answer for. Confined to the writer.
 */
final class KvSpace {

  /** A write's revision and its log record's sequence number (0 in memory). */
  record Written(long revision, long seq) {}

  /** How many keys a prefix delete removed, and the last one's log sequence number (0: none). */
  record Deleted(int count, long seq) {}

  /** KV entries by key; sorted, so a prefix is a range. */
  private final TreeMap<String, KvEntry> kv = new TreeMap<>();

  private final Revisions revisions;
  private final Watches watches;
  private final DataLog dataLog;

  /**
   * @param recovered the entries a data directory held at start-up
   * @param dataLog the data directory's log, or null in memory
   */
  KvSpace(Revisions revisions, Watches watches, DataLog dataLog, Map<String, KvEntry> recovered) {
    this.revisions = revisions;
    this.watches = watches;
    this.dataLog = dataLog;
    this.kv.putAll(recovered);
  }

  /** The entry of {@code key}, or null. */
  KvEntry get(String key) {
    return kv.get(key);
  }

  /** The entries under {@code prefix}, in key order (a view). */
  Collection<KvEntry> list(String prefix) {
    return Ranges.startingWith(kv, prefix).values();
  }

  /** A copy of every entry, for a snapshot of the data directory. */
  List<KvEntry> copy() {
    return new ArrayList<>(kv.values());
  }

  /** Writes {@code key} (its create revision kept if it exists) and announces it. */
  Written put(String key, ByteString value) {
    KvEntry existing = kv.get(key);
    long changed = revisions.next();
    KvEntry stored =
        KvEntry.newBuilder()
            .setKey(key)
            .setValue(value)
            .setCreateRevision(existing == null ? changed : existing.getCreateRevision())
            .setModRevision(changed)
            .build();
    kv.put(key, stored);
    long seq = dataLog == null ? 0 : dataLog.putKv(stored);
    watches.publishKv(key, KvWatchEvent.newBuilder().setRevision(changed).setPut(stored).build());
    return new Written(changed, seq);
  }

  /** Deletes a key that exists and announces it. */
  Written delete(String key) {
    kv.remove(key);
    long changed = revisions.next();
    long seq = dataLog == null ? 0 : dataLog.deleteKv(key, changed);
    watches.publishKv(
        key, KvWatchEvent.newBuilder().setRevision(changed).setDeletedKey(key).build());
    return new Written(changed, seq);
  }

  /**
   * Deletes every key under {@code prefix}, each at its own revision; returns how many and the last
   * one's log sequence (0 if none).
   */
  Deleted deleteStartingWith(String prefix) {
    List<String> keys = new ArrayList<>(Ranges.startingWith(kv, prefix).keySet());
    long seq = 0;
    for (String key : keys) {
      seq = delete(key).seq();
    }
    return new Deleted(keys.size(), seq);
  }
}

package io.skymesh.nameserver.etcd.internal;

import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.watch.WatchEvent.EventType;
import io.skymesh.nameserver.etcd.internal.EtcdWatcher.Batch;
import io.skymesh.nameserver.etcd.internal.EtcdWatcher.Changes;
import io.skymesh.nameserver.etcd.internal.EtcdWatcher.Snapshot;
import io.skymesh.proto.KvEntry;
import io.skymesh.proto.KvSnapshot;
import io.skymesh.proto.KvWatchEvent;
import java.util.List;
import java.util.TreeMap;

/**
 * One KV watch's view of its keys, translating etcd's batches into {@code KvWatchEvent}s. As in
 * {@link ServiceView}, an etcd revision that changes several keys (a prefix delete) becomes one
 * {@code KvSnapshot} with {@code resync = true}, since clients take a revision they have seen as
 * delivered. Not thread-safe: fed by one watch's serialized signals.
 */
final class KvView {

  private final EtcdKv kv;
  private final TreeMap<String, KvEntry> entries = new TreeMap<>();

  KvView(EtcdKv kv) {
    this.kv = kv;
  }

  List<KvWatchEvent> apply(Batch batch) {
    if (batch instanceof Snapshot snapshot) {
      entries.clear();
      for (KeyValue value : snapshot.kvs()) {
        KvEntry entry = kv.entryOf(value);
        entries.put(entry.getKey(), entry);
      }
      return snapshot.kind() == EtcdWatcher.Kind.BASE
          ? List.of()
          : List.of(snapshotEvent(snapshot.revision(), snapshot.kind() == EtcdWatcher.Kind.RESYNC));
    }
    Changes changes = (Changes) batch;
    KvWatchEvent.Builder single = null;
    int count = 0;
    for (io.etcd.jetcd.watch.WatchEvent event : changes.events()) {
      KvEntry entry = kv.entryOf(event.getKeyValue());
      KvWatchEvent.Builder out = KvWatchEvent.newBuilder().setRevision(changes.revision());
      if (event.getEventType() == EventType.PUT) {
        entries.put(entry.getKey(), entry);
        single = out.setPut(entry);
        count++;
      } else if (entries.remove(entry.getKey()) != null) {
        single = out.setDeletedKey(entry.getKey());
        count++;
      }
    }
    if (count == 0) {
      return List.of();
    }
    return List.of(count == 1 ? single.build() : snapshotEvent(changes.revision(), true));
  }

  private KvWatchEvent snapshotEvent(long revision, boolean resync) {
    return KvWatchEvent.newBuilder()
        .setRevision(revision)
        .setSnapshot(KvSnapshot.newBuilder().addAllEntries(entries.values()).setResync(resync))
        .build();
  }
}

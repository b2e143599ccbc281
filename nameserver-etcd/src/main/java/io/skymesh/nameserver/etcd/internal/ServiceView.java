package io.skymesh.nameserver.etcd.internal;

import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.watch.WatchEvent.EventType;
import io.skymesh.nameserver.etcd.internal.EtcdLayout.Kind;
import io.skymesh.nameserver.etcd.internal.EtcdLayout.ServiceKey;
import io.skymesh.nameserver.etcd.internal.EtcdWatcher.Batch;
import io.skymesh.nameserver.etcd.internal.EtcdWatcher.Changes;
import io.skymesh.nameserver.etcd.internal.EtcdWatcher.Snapshot;
import io.skymesh.proto.Instance;
import io.skymesh.proto.InstanceRemoved;
import io.skymesh.proto.Leader;
import io.skymesh.proto.WatchEvent;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * One watch's view of the services it covers, translating etcd's batches into the protocol's
 * events: instance keys into added, updated and removed (with the reason written beside the
 * removal), campaign keys into leader changes (the lowest create revision leads; its create
 * revision is the term).
 *
 * <p>Clients take a revision they have seen as delivered, so one revision carries at most one
 * event. An etcd revision that makes several (a lease expiry removing a session's instances, a
 * leader's instance and its campaign together) becomes one {@code Snapshot} with {@code resync =
 * true} of the whole view at that revision, which the watcher diffs against what it knew.
 *
 * <p>Not thread-safe: fed by one watch's serialized signals.
 */
final class ServiceView {

  /** The removal reason when no node wrote one: the lease ended. */
  static final String EXPIRED = "session expired";

  private final EtcdLayout layout;
  private final TreeMap<String, Instance> instances = new TreeMap<>();

  /** Campaigns per service: create revision to url. */
  private final Map<String, TreeMap<Long, String>> campaigns = new HashMap<>();

  /** The last leader per service that has had one; url empty when nobody leads now. */
  private final TreeMap<String, Leader> leaders = new TreeMap<>();

  ServiceView(EtcdLayout layout) {
    this.layout = layout;
  }

  List<WatchEvent> apply(Batch batch) {
    return batch instanceof Snapshot snapshot ? reset(snapshot) : change((Changes) batch);
  }

  private List<WatchEvent> reset(Snapshot snapshot) {
    instances.clear();
    campaigns.clear();
    for (KeyValue kv : snapshot.kvs()) {
      ServiceKey key = layout.serviceKeyOf(kv.getKey());
      if (key == null) {
        continue;
      }
      if (key.kind() == Kind.INSTANCE) {
        instances.put(key.url(), EtcdServices.instanceOf(kv));
      } else if (key.kind() == Kind.CAMPAIGN) {
        campaigns
            .computeIfAbsent(key.serviceName(), s -> new TreeMap<>())
            .put(kv.getCreateRevision(), key.url());
      }
    }
    Set<String> services = new LinkedHashSet<>(campaigns.keySet());
    services.addAll(leaders.keySet());
    for (String service : services) {
      leaderOf(service);
    }
    if (snapshot.kind() == EtcdWatcher.Kind.BASE) {
      return List.of();
    }
    return List.of(snapshotEvent(snapshot.revision(), snapshot.kind() == EtcdWatcher.Kind.RESYNC));
  }

  private List<WatchEvent> change(Changes changes) {
    long revision = changes.revision();
    Map<String, String> reasons = new HashMap<>();
    for (io.etcd.jetcd.watch.WatchEvent event : changes.events()) {
      ServiceKey key = layout.serviceKeyOf(event.getKeyValue().getKey());
      if (key != null && key.kind() == Kind.REASON && event.getEventType() == EventType.PUT) {
        reasons.put(key.url(), event.getKeyValue().getValue().toString(StandardCharsets.UTF_8));
      }
    }
    List<WatchEvent> leaderEvents = new ArrayList<>();
    List<WatchEvent> instanceEvents = new ArrayList<>();
    Set<String> electionsTouched = new LinkedHashSet<>();
    for (io.etcd.jetcd.watch.WatchEvent event : changes.events()) {
      KeyValue kv = event.getKeyValue();
      ServiceKey key = layout.serviceKeyOf(kv.getKey());
      if (key == null || key.kind() == Kind.REASON) {
        continue;
      }
      boolean put = event.getEventType() == EventType.PUT;
      WatchEvent.Builder out = WatchEvent.newBuilder().setRevision(revision);
      if (key.kind() == Kind.INSTANCE) {
        if (put) {
          Instance instance = EtcdServices.instanceOf(kv);
          Instance before = instances.put(key.url(), instance);
          instanceEvents.add(
              before == null
                  ? out.setInstanceAdded(instance).build()
                  : out.setInstanceUpdated(instance).build());
        } else if (instances.remove(key.url()) != null) {
          instanceEvents.add(
              out.setInstanceRemoved(
                      InstanceRemoved.newBuilder()
                          .setUrl(key.url())
                          .setReason(reasons.getOrDefault(key.url(), EXPIRED)))
                  .build());
        }
      } else {
        TreeMap<Long, String> line =
            campaigns.computeIfAbsent(key.serviceName(), s -> new TreeMap<>());
        if (put) {
          line.put(kv.getCreateRevision(), key.url());
        } else {
          line.values().remove(key.url());
        }
        electionsTouched.add(key.serviceName());
      }
    }
    for (String service : electionsTouched) {
      Leader before = leaders.get(service);
      Leader after = leaderOf(service);
      if (after != null && !after.equals(before)) {
        leaderEvents.add(
            WatchEvent.newBuilder().setRevision(revision).setLeaderChanged(after).build());
      }
    }
    int count = leaderEvents.size() + instanceEvents.size();
    if (count == 0) {
      return List.of();
    }
    if (count == 1) {
      return leaderEvents.isEmpty() ? instanceEvents : leaderEvents;
    }
    return List.of(snapshotEvent(revision, true));
  }

  /** Recomputes the leader of {@code service} into {@link #leaders}; null if it never had one. */
  private Leader leaderOf(String service) {
    TreeMap<Long, String> line = campaigns.get(service);
    Leader before = leaders.get(service);
    Leader now;
    if (line != null && !line.isEmpty()) {
      Map.Entry<Long, String> first = line.firstEntry();
      now =
          Leader.newBuilder()
              .setServiceName(service)
              .setLeaderUrl(first.getValue())
              .setTerm(first.getKey())
              .build();
    } else if (before != null) {
      now = before.getLeaderUrl().isEmpty() ? before : before.toBuilder().clearLeaderUrl().build();
    } else {
      if (line != null) {
        campaigns.remove(service);
      }
      return null;
    }
    if (line != null && line.isEmpty()) {
      campaigns.remove(service);
    }
    leaders.put(service, now);
    return now;
  }

  private WatchEvent snapshotEvent(long revision, boolean resync) {
    io.skymesh.proto.Snapshot.Builder snapshot =
        io.skymesh.proto.Snapshot.newBuilder()
            .addAllInstances(instances.values())
            .addAllLeaders(leaders.values())
            .setResync(resync);
    return WatchEvent.newBuilder().setRevision(revision).setSnapshot(snapshot).build();
  }
}

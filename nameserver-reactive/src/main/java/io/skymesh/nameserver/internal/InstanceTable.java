package io.skymesh.nameserver.internal;

import io.skymesh.proto.Instance;
import io.skymesh.proto.InstanceRemoved;
import io.skymesh.proto.Snapshot;
import io.skymesh.proto.WatchEvent;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.TreeMap;

/**
 * The instance table and sessions: every live instance by canonical ServiceUrl with the session
 * that holds it, and every connected session. Adding, changing and removing an instance takes a
 * revision and is published to the watches; a removed instance leaves its election first, so a
 * leader is always a live instance. Confined to the writer.
 */
final class InstanceTable {

  /** One live instance and the session that holds it. */
  record Live(Instance instance, InstanceHolder owner) {}

  /** Live instances by canonical ServiceUrl; sorted, so a service or prefix is a range. */
  private final TreeMap<String, Live> instances = new TreeMap<>();

  private final Set<Session> sessions = new LinkedHashSet<>();
  private int openSessions;

  private final Revisions revisions;
  private final Watches watches;
  private final Elections elections;

  InstanceTable(Revisions revisions, Watches watches, Elections elections) {
    this.revisions = revisions;
    this.watches = watches;
    this.elections = elections;
  }

  // ---------------------------------------------------------------------------------------------
  // Sessions.

  /** Every connected session, opened or not. */
  Set<Session> sessions() {
    return sessions;
  }

  /** Counts a session that has sent its OpenSession. */
  void opened() {
    openSessions++;
  }

  /** Uncounts an opened session that ended. */
  void ended() {
    openSessions--;
  }

  /** The number of opened sessions that have not ended. */
  int openSessions() {
    return openSessions;
  }

  // ---------------------------------------------------------------------------------------------
  // Instances.

  /** The live instance of {@code url}, or null. */
  Live get(String url) {
    return instances.get(url);
  }

  /** The number of live instances. */
  int size() {
    return instances.size();
  }

  /**
   * Registers {@code instance} for {@code owner}, or replaces the one {@code owner} already holds
   * (create revision kept); announces it and returns its revision. The caller has checked that no
   * other session holds the url.
   */
  long register(InstanceHolder owner, String url, String serviceName, Instance instance) {
    Live existing = instances.get(url);
    long changed = revisions.next();
    Instance stored =
        instance.toBuilder()
            .setUrl(url)
            .setCreateRevision(existing == null ? changed : existing.instance.getCreateRevision())
            .setModRevision(changed)
            .build();
    instances.put(url, new Live(stored, owner));
    owner.owned().add(url);
    WatchEvent.Builder event = WatchEvent.newBuilder().setRevision(changed);
    if (existing == null) {
      event.setInstanceAdded(stored);
    } else {
      event.setInstanceUpdated(stored);
    }
    watches.publish(serviceName, event.build());
    return changed;
  }

  /** Sets or merges a live instance's attributes, announces it, and returns its revision. */
  long setAttributes(String url, Map<String, String> attributes, boolean merge) {
    Live live = instances.get(url);
    long changed = revisions.next();
    Instance.Builder updated = live.instance.toBuilder().setModRevision(changed);
    if (!merge) {
      updated.clearAttributes();
    }
    updated.putAllAttributes(attributes);
    Instance stored = updated.build();
    instances.put(url, new Live(stored, live.owner));
    watches.publish(
        Ranges.serviceNameOf(url),
        WatchEvent.newBuilder().setRevision(changed).setInstanceUpdated(stored).build());
    return changed;
  }

  /** Removes a live instance and announces it; returns the revision of the removal. */
  long remove(String url, String reason) {
    // The instance stops leading before it leaves, so a leader is always a live instance.
    elections.leave(url);
    Live live = instances.remove(url);
    live.owner.owned().remove(url);
    long changed = revisions.next();
    watches.publish(
        Ranges.serviceNameOf(url),
        WatchEvent.newBuilder()
            .setRevision(changed)
            .setInstanceRemoved(InstanceRemoved.newBuilder().setUrl(url).setReason(reason))
            .build());
    return changed;
  }

  /** Removes every instance whose url starts with {@code prefix}; returns how many. */
  int removeStartingWith(String prefix, String reason) {
    List<String> urls = new ArrayList<>(Ranges.startingWith(instances, prefix).keySet());
    for (String url : urls) {
      remove(url, reason);
    }
    return urls.size();
  }

  /** Adds every live instance a snapshot of the instance watch {@code watch} covers. */
  void addInstances(Snapshot.Builder snapshot, WatchState watch) {
    NavigableMap<String, Live> range =
        watch.serviceName != null
            // Every url of the service is "name/id"; '0' is the character after '/'.
            ? instances.subMap(watch.serviceName + "/", true, watch.serviceName + "0", false)
            : Ranges.startingWith(instances, watch.prefix);
    for (Live live : range.values()) {
      snapshot.addInstances(live.instance);
    }
  }
}

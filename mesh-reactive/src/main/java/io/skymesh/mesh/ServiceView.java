package io.skymesh.mesh;

import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import java.util.AbstractList;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.RandomAccess;

/**
 * The live instances of one service and its elected leader at one name-server revision. Immutable:
 * routing policies read it without locks.
 *
 * <p>Built for large services: a view is a persistent structure, so the view after one change
 * ({@link #with}, {@link #without}, {@link #withLeader}) shares almost everything with the one
 * before and costs {@code O(log n)} to make; {@link #instance(ServiceUrl)} is a hash look-up, not a
 * scan. {@link #instances()}, the url-sorted list the index-based policies pick from, is made once
 * per view on first use, then read in constant time: a copy of the previous view's list with one
 * edit when that one was made (an array copy), else an in-order walk of the tree ({@code O(n)}).
 */
public final class ServiceView {

  private final ServiceName serviceName;
  private final InstanceTree.Node tree;
  private final UrlIndex.Node index;
  private final int size;
  private final Leader leader;
  private final Optional<Instance> leaderInstance;
  private final long revision;

  /** The sorted list, made on first use: racing threads may each make an equal one. */
  private volatile List<Instance> sorted;

  /**
   * When this view is one change away from a view whose list was made: that list and the change, so
   * this view's list is a copy with one edit instead of a walk of the tree. Cleared once the list
   * is made, so a view never holds more than one older list.
   */
  private volatile Edit edit;

  private ServiceView(
      ServiceName serviceName,
      InstanceTree.Node tree,
      UrlIndex.Node index,
      int size,
      Leader leader,
      long revision) {
    this.serviceName = serviceName;
    this.tree = tree;
    this.index = index;
    this.size = size;
    this.leader = leader;
    this.leaderInstance =
        leader.url().map(url -> UrlIndex.get(index, url)); // empty when not (yet) a member
    this.revision = revision;
    if (size == 0) {
      sorted = List.of();
    }
  }

  /**
   * A view of {@code instances}, where nobody leads (term 0).
   *
   * @param serviceName the service
   * @param instances its live instances, in any order
   * @param revision the name-server revision the view reflects
   * @return the view
   * @throws IllegalArgumentException if two instances have the same url, or one is of another
   *     service
   */
  public static ServiceView of(
      ServiceName serviceName, Collection<Instance> instances, long revision) {
    return of(serviceName, instances, Leader.none(serviceName, 0, 0), revision);
  }

  /**
   * A view of {@code instances} and {@code leader}.
   *
   * @param serviceName the service
   * @param instances its live instances, in any order
   * @param leader who leads the service
   * @param revision the name-server revision the view reflects
   * @return the view
   * @throws IllegalArgumentException if two instances have the same url, or one (or the leader) is
   *     of another service
   */
  public static ServiceView of(
      ServiceName serviceName, Collection<Instance> instances, Leader leader, long revision) {
    Objects.requireNonNull(serviceName, "serviceName");
    Objects.requireNonNull(leader, "leader");
    requireService(serviceName, leader.serviceName(), "leader");
    List<Instance> sorted = new ArrayList<>(instances);
    sorted.sort((a, b) -> InstanceTree.ORDER.compare(a.url(), b.url()));
    UrlIndex.Node index = UrlIndex.Node.EMPTY;
    for (int i = 0; i < sorted.size(); i++) {
      Instance instance = sorted.get(i);
      requireService(serviceName, instance.url().serviceName(), "instance " + instance.url());
      if (i > 0 && sorted.get(i - 1).url().equals(instance.url())) {
        throw new IllegalArgumentException(
            "instances: " + instance.url() + " twice (expected: distinct urls)");
      }
      index = UrlIndex.put(index, instance);
    }
    ServiceView view =
        new ServiceView(
            serviceName, InstanceTree.build(sorted), index, sorted.size(), leader, revision);
    if (!sorted.isEmpty()) {
      view.sorted = new SortedInstances(sorted.toArray(new Instance[0]));
    }
    return view;
  }

  /**
   * An empty view of {@code serviceName} at revision 0, where nobody leads.
   *
   * @param serviceName the service
   * @return the view
   */
  public static ServiceView empty(ServiceName serviceName) {
    Objects.requireNonNull(serviceName, "serviceName");
    return new ServiceView(
        serviceName, null, UrlIndex.Node.EMPTY, 0, Leader.none(serviceName, 0, 0), 0);
  }

  private static void requireService(ServiceName expected, ServiceName actual, String what) {
    if (!expected.equals(actual)) {
      throw new IllegalArgumentException(
          what + ": of " + actual + " (expected: of " + expected + ")");
    }
  }

  /**
   * This view with {@code instance} added, or replacing the instance of its url. {@code O(log n)};
   * this view is unchanged.
   *
   * @param instance an instance of this service
   * @param revision the revision of the change
   * @return the new view
   * @throws IllegalArgumentException if {@code instance} is of another service
   */
  public ServiceView with(Instance instance, long revision) {
    Objects.requireNonNull(instance, "instance");
    requireService(serviceName, instance.url().serviceName(), "instance " + instance.url());
    boolean added = UrlIndex.get(index, instance.url()) == null;
    ServiceView view =
        new ServiceView(
            serviceName,
            InstanceTree.put(tree, instance),
            UrlIndex.put(index, instance),
            added ? size + 1 : size,
            leader,
            revision);
    if (sorted instanceof SortedInstances made) {
      view.edit = new Edit(made.instances, instance, null);
    }
    return view;
  }

  /**
   * This view without the instance of {@code url} (the same instances if it is not there). {@code
   * O(log n)}; this view is unchanged.
   *
   * @param url an instance
   * @param revision the revision of the change
   * @return the new view
   */
  public ServiceView without(ServiceUrl url, long revision) {
    Objects.requireNonNull(url, "url");
    if (UrlIndex.get(index, url) == null) {
      ServiceView same = new ServiceView(serviceName, tree, index, size, leader, revision);
      same.sorted = sorted;
      same.edit = edit;
      return same;
    }
    ServiceView view =
        new ServiceView(
            serviceName,
            InstanceTree.remove(tree, url),
            UrlIndex.remove(index, url),
            size - 1,
            leader,
            revision);
    if (sorted instanceof SortedInstances made) {
      view.edit = new Edit(made.instances, null, url);
    }
    return view;
  }

  /**
   * This view with another leader; the instances are shared. This view is unchanged.
   *
   * @param leader who leads now
   * @param revision the revision of the change
   * @return the new view
   * @throws IllegalArgumentException if {@code leader} is of another service
   */
  public ServiceView withLeader(Leader leader, long revision) {
    Objects.requireNonNull(leader, "leader");
    requireService(serviceName, leader.serviceName(), "leader");
    ServiceView view = new ServiceView(serviceName, tree, index, size, leader, revision);
    view.sorted = sorted;
    view.edit = edit;
    return view;
  }

  /** The service. */
  public ServiceName serviceName() {
    return serviceName;
  }

  /**
   * The live instances, sorted by url: an immutable, random-access list. Made on the first call on
   * this view ({@code O(n)}), then returned as it is.
   *
   * @return the instances
   */
  public List<Instance> instances() {
    List<Instance> list = sorted;
    if (list == null) {
      Edit pending = edit;
      Instance[] all = pending == null ? null : pending.apply(size);
      if (all == null) {
        all = new Instance[size];
        InstanceTree.copyInto(tree, all);
      }
      list = new SortedInstances(all);
      sorted = list;
      edit = null;
    }
    return list;
  }

  /** The name-server revision this view reflects. */
  public long revision() {
    return revision;
  }

  /** Who leads the service, as the name server said at this view's revision. */
  public Leader leader() {
    return leader;
  }

  /**
   * The leader's instance, if somebody leads and is live in this view. Constant-time, allocates
   * nothing.
   *
   * @return the leader's instance, or empty
   */
  public Optional<Instance> leaderInstance() {
    return leaderInstance;
  }

  /**
   * The instance with this url, if it is live in this view: a hash look-up, {@code O(1)}.
   *
   * @param url an instance's url
   * @return the instance, or empty
   */
  public Optional<Instance> instance(ServiceUrl url) {
    return Optional.ofNullable(UrlIndex.get(index, url));
  }

  /** How many instances are live. */
  public int size() {
    return size;
  }

  /** Whether no instance is live. */
  public boolean isEmpty() {
    return size == 0;
  }

  /** Views are equal when they hold the same service, instances, leader and revision. */
  @Override
  public boolean equals(Object other) {
    return other instanceof ServiceView view
        && view.revision == revision
        && view.size == size
        && view.serviceName.equals(serviceName)
        && view.leader.equals(leader)
        && view.instances().equals(instances());
  }

  @Override
  public int hashCode() {
    return Objects.hash(serviceName, revision, leader, instances());
  }

  @Override
  public String toString() {
    return "ServiceView["
        + serviceName
        + " at "
        + revision
        + ", "
        + size
        + (size <= 16 ? " " + instances() : "")
        + ", leader "
        + leader.url().map(ServiceUrl::toString).orElse("none")
        + " term "
        + leader.term()
        + "]";
  }

  /** One instance put into or removed from a made list. */
  private record Edit(Instance[] before, Instance put, ServiceUrl removed) {

    /** The list after the edit (array copies, no tree walk), or null if it is not {@code size}. */
    Instance[] apply(int size) {
      ServiceUrl url = put != null ? put.url() : removed;
      int low = 0;
      int high = before.length - 1;
      int at = -1;
      while (low <= high) {
        int middle = (low + high) >>> 1;
        int order = InstanceTree.ORDER.compare(before[middle].url(), url);
        if (order < 0) {
          low = middle + 1;
        } else if (order > 0) {
          high = middle - 1;
        } else {
          at = middle;
          break;
        }
      }
      Instance[] after;
      if (put != null && at >= 0) {
        after = before.clone();
        after[at] = put;
      } else if (put != null) {
        after = new Instance[before.length + 1];
        System.arraycopy(before, 0, after, 0, low);
        after[low] = put;
        System.arraycopy(before, low, after, low + 1, before.length - low);
      } else if (at >= 0) {
        after = new Instance[before.length - 1];
        System.arraycopy(before, 0, after, 0, at);
        System.arraycopy(before, at + 1, after, at, after.length - at);
      } else {
        after = before;
      }
      return after.length == size ? after : null;
    }
  }

  /** The sorted instances of one view. */
  private static final class SortedInstances extends AbstractList<Instance>
      implements RandomAccess {
    private final Instance[] instances;

    SortedInstances(Instance[] instances) {
      this.instances = instances;
    }

    @Override
    public Instance get(int index) {
      return instances[index];
    }

    @Override
    public int size() {
      return instances.length;
    }
  }
}

package io.skymesh.mesh.internal.routing;

import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.Instance;
import io.skymesh.mesh.ServiceView;
import io.skymesh.mesh.routing.PeerStats;
import io.skymesh.mesh.routing.RoutingPolicy;
import java.util.Arrays;
import java.util.List;

/**
 * Consistent hashing on a ring of virtual nodes, optionally with bounded loads (Mirrokni, Thorup
 * and Zadimoghaddam, "Consistent Hashing with Bounded Loads", SODA 2018).
 *
 * <p>Each instance owns {@link #VIRTUAL_NODES} points on a 64-bit ring, placed by the hash of its
 * url alone, so a point never moves while its instance stays: a departure frees only the departed
 * instance's arcs, an arrival takes arcs only. A key goes to the owner of the first point at or
 * after its hash. With bounded loads it goes to the first owner clockwise whose in-flight count is
 * below the capacity {@code ceil((1 + epsilon) × (total in flight + 1) / n)}; since {@code n}
 * capacities exceed the total in flight, some owner always qualifies.
 */
public final class ConsistentHashPolicy implements RoutingPolicy {

  /** Points per instance on the ring: ketama's 160, about 8% spread of each instance's share. */
  public static final int VIRTUAL_NODES = 160;

  private static final long GOLDEN = 0x9E3779B97F4A7C15L;

  private final double epsilon;
  private final PerService<ViewCache<Ring>> rings;

  /**
   * A policy whose instances may carry {@code 1 + epsilon} times the average load; infinity ignores
   * load.
   *
   * @param epsilon the load bound's slack, at least 0
   */
  public ConsistentHashPolicy(double epsilon) {
    this.epsilon = epsilon;
    this.rings = new PerService<>(service -> new ViewCache<>(ConsistentHashPolicy::build));
  }

  @Override
  public Instance select(ServiceView view, Object key, PeerStats stats) {
    int n = Policies.requireNonEmpty(view);
    long hash = Keys.hash(Policies.requireKey(key, this));
    Ring ring = rings.of(view.serviceName()).of(view);
    long[] points = ring.points;
    int[] owners = ring.owners;
    int start = Arrays.binarySearch(points, hash);
    if (start < 0) {
      start = -start - 1;
    }
    if (start == points.length) {
      start = 0;
    }
    List<Instance> instances = view.instances();
    if (epsilon == Double.POSITIVE_INFINITY || n == 1) {
      return instances.get(owners[start]);
    }
    long total = stats.totalInFlight(view);
    double capacity = Math.ceil((1 + epsilon) * (total + 1) / n);
    for (int step = 0, at = start; step < points.length; step++) {
      Instance owner = instances.get(owners[at]);
      if (stats.inFlight(owner.url()) < capacity) {
        return owner;
      }
      if (++at == points.length) {
        at = 0;
      }
    }
    // Loads changed while walking so that nobody looked below capacity: keep the key's owner.
    return instances.get(owners[start]);
  }

  /**
   * The ring point of {@code url}'s {@code replica}-th virtual node: it depends on nothing else.
   *
   * @param urlHash the hash of an instance's url
   * @param replica 0 to {@link #VIRTUAL_NODES} - 1
   * @return its point
   */
  static long point(long urlHash, int replica) {
    return Keys.mix(urlHash + (replica + 1) * GOLDEN);
  }

  private static Ring build(ServiceView view) {
    List<Instance> instances = view.instances();
    int size = instances.size() * VIRTUAL_NODES;
    long[] points = new long[size];
    int[] owners = new int[size];
    for (int i = 0; i < instances.size(); i++) {
      ServiceUrl url = instances.get(i).url();
      long urlHash = Keys.hash(url.toString());
      for (int replica = 0; replica < VIRTUAL_NODES; replica++) {
        points[i * VIRTUAL_NODES + replica] = point(urlHash, replica);
        owners[i * VIRTUAL_NODES + replica] = i;
      }
    }
    sort(points, owners, instances);
    return new Ring(view, points, owners);
  }

  /**
   * Sorts the points in place by heap sort (no boxing: a ring can hold many thousands of points),
   * carrying their owners along; equal points are ordered by their owners' urls so the ring does
   * not depend on the view's other members.
   */
  private static void sort(long[] points, int[] owners, List<Instance> instances) {
    int size = points.length;
    for (int root = size / 2 - 1; root >= 0; root--) {
      siftDown(points, owners, instances, root, size);
    }
    for (int end = size - 1; end > 0; end--) {
      swap(points, owners, 0, end);
      siftDown(points, owners, instances, 0, end);
    }
  }

  private static void siftDown(
      long[] points, int[] owners, List<Instance> instances, int root, int size) {
    for (int child = 2 * root + 1; child < size; child = 2 * root + 1) {
      if (child + 1 < size && less(points, owners, instances, child, child + 1)) {
        child++;
      }
      if (!less(points, owners, instances, root, child)) {
        return;
      }
      swap(points, owners, root, child);
      root = child;
    }
  }

  private static boolean less(long[] points, int[] owners, List<Instance> instances, int a, int b) {
    int byPoint = Long.compare(points[a], points[b]);
    return byPoint != 0
        ? byPoint < 0
        : instances.get(owners[a]).url().compareTo(instances.get(owners[b]).url()) < 0;
  }

  private static void swap(long[] points, int[] owners, int a, int b) {
    long point = points[a];
    points[a] = points[b];
    points[b] = point;
    int owner = owners[a];
    owners[a] = owners[b];
    owners[b] = owner;
  }

  @Override
  public String toString() {
    return epsilon == Double.POSITIVE_INFINITY
        ? "consistentHash()"
        : "consistentHash(" + epsilon + ")";
  }

  /** The ring of one view: sorted points and the index of each point's instance. */
  private record Ring(ServiceView view, long[] points, int[] owners) implements ViewCache.Derived {}
}

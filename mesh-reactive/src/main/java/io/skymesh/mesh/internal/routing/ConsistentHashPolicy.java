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
    int start = ring.index.firstAtOrAfter(points, hash);
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
    return new Ring(view, points, owners, RingIndex.of(points));
  }

  /**
   * Where on a sorted ring the first point at or after a hash lies, without a binary search over
   * the whole ring: the ring's range is cut into a power of two of equal buckets, four to eight
   * points each on average, and each bucket's first point index is kept. A look-up reads its
   * bucket's bounds and scans the few points between them, one or two cache lines, where a binary
   * search over 160,000 points (1,000 instances) touches 17, most of them cache misses. It costs an
   * {@code int} per {@value #POINTS_PER_BUCKET} or more points: at most a twelfth of the ring's
   * memory.
   *
   * @param starts {@code starts[b]} is the index of the first point in bucket {@code b} or a later
   *     one; {@code starts[buckets]} is the ring's length
   * @param shift how far a point, in unsigned order, shifts right to its bucket
   */
  record RingIndex(int[] starts, int shift) {

    /** Points per bucket, at least, on average: four to eight. */
    static final int POINTS_PER_BUCKET = 4;

    /** The most points a look-up scans one by one. */
    private static final int SCAN_AT_MOST = 16;

    /** The index of a ring sorted in signed order. */
    static RingIndex of(long[] points) {
      // At least two buckets, so that the shift is below 64 and a pick needs no special case.
      int bits = 1;
      while (bits < 30 && (1L << (bits + 1)) * POINTS_PER_BUCKET <= points.length) {
        bits++;
      }
      int buckets = 1 << bits;
      int shift = 64 - bits;
      int[] starts = new int[buckets + 1];
      int at = 0;
      for (int b = 0; b < buckets; b++) {
        while (at < points.length && bucket(points[at], shift) < b) {
          at++;
        }
        starts[b] = at;
      }
      starts[buckets] = points.length;
      return new RingIndex(starts, shift);
    }

    /** {@code point}'s bucket: its top bits in unsigned order, so buckets follow signed order. */
    private static int bucket(long point, int shift) {
      return (int) ((point ^ Long.MIN_VALUE) >>> shift);
    }

    /**
     * The index of the first of {@code points} (the ring this index was made of) at or after {@code
     * hash}; {@code points.length} if none is.
     */
    int firstAtOrAfter(long[] points, long hash) {
      int b = bucket(hash, shift);
      int at = starts[b];
      int end = starts[b + 1];
      // A crowded bucket (points equal or bunched, which mixed hashes make unlikely) is halved
      // first, so that no look-up scans more than a few points.
      while (end - at > SCAN_AT_MOST) {
        int middle = (at + end) >>> 1;
        if (points[middle] < hash) {
          at = middle + 1;
        } else {
          end = middle;
        }
      }
      while (at < end && points[at] < hash) {
        at++;
      }
      return at;
    }
  }

  /** A range this small is finished by insertion sort. */
  private static final int INSERTION_SORT_MAX = 32;

  /**
   * Sorts the points in place, carrying their owners along; equal points are ordered by their
   * owners' urls so the ring does not depend on the view's other members. A ring holds 160 points
   * per instance (16 million at 100,000 instances), so the sort is in place and cache-friendly: an
   * MSD radix sort, 8 bits at a time, that permutes each range into its 256 buckets in place
   * (American flag sort: every write goes to one of 256 advancing cursors), down to ranges small
   * enough for insertion sort. Points are mixed hashes, so three levels finish the largest ring.
   */
  static void sort(long[] points, int[] owners, List<Instance> instances) {
    radixSort(points, owners, instances, 0, points.length, 0, new int[8][256], new int[8][256]);
  }

  private static void radixSort(
      long[] points,
      int[] owners,
      List<Instance> instances,
      int from,
      int to,
      int level,
      int[][] nexts,
      int[][] ends) {
    if (to - from <= INSERTION_SORT_MAX) {
      insertionSort(points, owners, instances, from, to);
      return;
    }
    if (level == 8) {
      // Every point of the range is equal: only the urls order it.
      heapSort(points, owners, instances, from, to - from);
      return;
    }
    int shift = 56 - 8 * level;
    int[] next = nexts[level];
    int[] end = ends[level];
    Arrays.fill(end, 0);
    for (int i = from; i < to; i++) {
      end[digit(points[i], shift)]++;
    }
    for (int b = 0, at = from; b < 256; b++) {
      next[b] = at;
      at += end[b];
      end[b] = at;
    }
    // Each point moves straight to the next free place of its bucket, displacing the one there.
    for (int b = 0; b < 256; b++) {
      while (next[b] < end[b]) {
        int home = next[b];
        long point = points[home];
        int owner = owners[home];
        int d = digit(point, shift);
        while (d != b) {
          int at = next[d]++;
          long displacedPoint = points[at];
          int displacedOwner = owners[at];
          points[at] = point;
          owners[at] = owner;
          point = displacedPoint;
          owner = displacedOwner;
          d = digit(point, shift);
        }
        points[home] = point;
        owners[home] = owner;
        next[b]++;
      }
    }
    for (int b = 0, start = from; b < 256; b++) {
      int stop = end[b];
      radixSort(points, owners, instances, start, stop, level + 1, nexts, ends);
      start = stop;
    }
  }

  /** The 8 bits of {@code point} at {@code shift}, in signed order. */
  private static int digit(long point, int shift) {
    return (int) ((point ^ Long.MIN_VALUE) >>> shift) & 0xFF;
  }

  private static void insertionSort(
      long[] points, int[] owners, List<Instance> instances, int from, int to) {
    for (int i = from + 1; i < to; i++) {
      for (int j = i; j > from && less(points, owners, instances, j, j - 1); j--) {
        swap(points, owners, j, j - 1);
      }
    }
  }

  /** Heap sort of the {@code size} points from {@code from}: no boxing, no extra array. */
  private static void heapSort(
      long[] points, int[] owners, List<Instance> instances, int from, int size) {
    for (int root = size / 2 - 1; root >= 0; root--) {
      siftDown(points, owners, instances, from, root, size);
    }
    for (int end = size - 1; end > 0; end--) {
      swap(points, owners, from, from + end);
      siftDown(points, owners, instances, from, 0, end);
    }
  }

  private static void siftDown(
      long[] points, int[] owners, List<Instance> instances, int from, int root, int size) {
    for (int child = 2 * root + 1; child < size; child = 2 * root + 1) {
      if (child + 1 < size && less(points, owners, instances, from + child, from + child + 1)) {
        child++;
      }
      if (!less(points, owners, instances, from + root, from + child)) {
        return;
      }
      swap(points, owners, from + root, from + child);
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

  /** The ring of one view: sorted points, the index of each point's instance, and a look-up. */
  private record Ring(ServiceView view, long[] points, int[] owners, RingIndex index)
      implements ViewCache.Derived {}
}

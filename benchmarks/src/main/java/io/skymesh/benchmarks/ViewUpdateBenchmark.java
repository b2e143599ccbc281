package io.skymesh.benchmarks;

import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.Instance;
import io.skymesh.mesh.Leader;
import io.skymesh.mesh.ServiceView;
import io.skymesh.mesh.routing.PeerStats;
import io.skymesh.mesh.routing.RoutingPolicy;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * The cost of one membership change to a {@link ServiceView} of 1,000, 10,000 or 100,000 instances,
 * which is what a router pays per watch event: a join and a departure, an update of a member, a new
 * leader, and a look-up by url (what every request to a named instance does). Nanoseconds per
 * operation; they should grow with {@code log n}, not {@code n}.
 *
 * <p>{@code changeThenRoundRobin} adds a pick after each change: the first pick on a new view makes
 * its url-sorted array (a copy of the previous view's with one edit, {@code O(n)} once per view),
 * so it grows with {@code n} and shows what routing by index costs while a service churns as fast
 * as it is picked from.
 *
 * <pre>{@code
 * java -jar benchmarks/target/benchmarks.jar ViewUpdate -prof gc
 * }</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class ViewUpdateBenchmark {

  private static final int CHANGES = 1024;

  /** How many instances the view holds. */
  @Param({"1000", "10000", "100000"})
  public int instances;

  private ServiceView view;
  private Instance[] joining;
  private Instance[] updated;
  private ServiceUrl[] present;
  private Leader[] leaders;
  private RoutingPolicy roundRobin;
  private int next;

  /** Builds the view and the changes applied to it. */
  @Setup
  public void setUp() {
    ServiceName name = ServiceName.parse("bench.local.viewed");
    List<Instance> members = new ArrayList<>(instances);
    for (int i = 0; i < instances; i++) {
      members.add(instance(name, String.format("i%07d", i * 2), 1));
    }
    view = ServiceView.of(name, members, 1);
    Random random = new Random(42);
    joining = new Instance[CHANGES];
    updated = new Instance[CHANGES];
    present = new ServiceUrl[CHANGES];
    leaders = new Leader[CHANGES];
    for (int c = 0; c < CHANGES; c++) {
      int at = random.nextInt(instances);
      // Odd ids fall between the members: a join anywhere in the order.
      joining[c] = instance(name, String.format("i%07d", at * 2 + 1), 1);
      updated[c] = instance(name, String.format("i%07d", at * 2), 2);
      present[c] = members.get(random.nextInt(instances)).url();
      leaders[c] = new Leader(name, Optional.of(present[c]), c + 1, c + 2);
    }
    roundRobin = RoutingPolicy.roundRobin();
  }

  private static Instance instance(ServiceName name, String id, int weight) {
    return new Instance(
        name.instance(id),
        "127.0.0.1:" + (10_000 + id.hashCode() % 1_000),
        weight,
        Map.of(),
        "p",
        1);
  }

  /** An instance joins and leaves again: two changes, each a new view. */
  @Benchmark
  public ServiceView joinAndLeave() {
    Instance instance = joining[next++ & (CHANGES - 1)];
    return view.with(instance, 2).without(instance.url(), 3);
  }

  /** A member's weight or attributes change. */
  @Benchmark
  public ServiceView update() {
    return view.with(updated[next++ & (CHANGES - 1)], 2);
  }

  /** A new leader. */
  @Benchmark
  public ServiceView leaderChange() {
    return view.withLeader(leaders[next++ & (CHANGES - 1)], 2);
  }

  /** A look-up by url. */
  @Benchmark
  public Instance lookUp() {
    return view.instance(present[next++ & (CHANGES - 1)]).orElse(null);
  }

  /** A member changes, then the first round-robin pick on the new view. */
  @Benchmark
  public Instance changeThenRoundRobin() {
    ServiceView changed = view.with(updated[next++ & (CHANGES - 1)], 2);
    return roundRobin.select(changed, null, PeerStats.none());
  }
}

package io.skymesh.benchmarks;

import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.Instance;
import io.skymesh.mesh.ServiceView;
import io.skymesh.mesh.internal.routing.LowestLatencyPolicy;
import io.skymesh.mesh.routing.PeerStatsRecorder;
import io.skymesh.mesh.routing.RoutingPolicy;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
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
 * {@link RoutingPolicy#select} over an immutable view of 3, 100 or 1,000 instances, one policy per
 * trial: selections per second, and with {@code -prof gc} the bytes allocated per selection ({@code
 * gc.alloc.rate.norm}), which should be 0 in the steady state.
 *
 * <p>Keys come from a prepared array of boxed values (string keys for {@code hash}), so the
 * benchmark itself allocates nothing per call. Weights vary (1 to 5); for the statistics-driven
 * policies every instance has a latency sample and some have requests in flight. {@code
 * lowestLatencyLocal} is local first with its worst case: instance 0 is this process's, saturated
 * (256 in flight), so every pick looks at it and then draws two of the remote ones.
 *
 * <pre>{@code
 * java -jar benchmarks/target/benchmarks.jar Router -prof gc
 * }</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class RouterBenchmark {

  private static final int KEYS = 1024;
  private static final String LOCAL_PROCESS = "local";

  /** How many instances the view holds. */
  @Param({"3", "100", "1000"})
  public int instances;

  /**
   * The policy measured, by its factory's name; {@code consistentHashBounded} has epsilon 0.25,
   * {@code lowestLatencyLocal} is {@code lowestLatency(localProcessId)}.
   */
  @Param({
    "roundRobin",
    "random",
    "weightedRoundRobin",
    "weightedRandom",
    "modHash",
    "hash",
    "consistentHash",
    "consistentHashBounded",
    "leastOutstanding",
    "lowestLatency",
    "lowestLatencyLocal"
  })
  public String policy;

  private ServiceView view;
  private RoutingPolicy selected;
  private PeerStatsRecorder stats;
  private Object[] keys;
  private int next;

  /** Builds the view, the policy, the statistics and the keys. */
  @Setup
  public void setUp() {
    ServiceName name = ServiceName.parse("bench.local.routed");
    List<Instance> members = new ArrayList<>(instances);
    stats = PeerStatsRecorder.create();
    boolean localFirst = policy.equals("lowestLatencyLocal");
    for (int i = 0; i < instances; i++) {
      ServiceUrl url = name.instance(Integer.toString(i));
      String process = localFirst && i == 0 ? LOCAL_PROCESS : "p" + (i % 10);
      members.add(new Instance(url, "127.0.0.1:" + (10_000 + i), 1 + i % 5, Map.of(), process, 1));
      PeerStatsRecorder.Peer peer = stats.peer(url);
      peer.sample(1_000_000L + 10_000L * (i % 97));
      int started =
          localFirst && i == 0
              ? LowestLatencyPolicy.DEFAULT_MAX_LOCAL_IN_FLIGHT
              : i % 3 == 0 ? 1 : 0;
      for (int s = 0; s < started; s++) {
        peer.started();
      }
    }
    view = ServiceView.of(name, members, 1);
    selected =
        switch (policy) {
          case "roundRobin" -> RoutingPolicy.roundRobin();
          case "random" -> RoutingPolicy.random();
          case "weightedRoundRobin" -> RoutingPolicy.weightedRoundRobin();
          case "weightedRandom" -> RoutingPolicy.weightedRandom();
          case "modHash" -> RoutingPolicy.modHash();
          case "hash" -> RoutingPolicy.hash();
          case "consistentHash" -> RoutingPolicy.consistentHash();
          case "consistentHashBounded" -> RoutingPolicy.consistentHash(0.25);
          case "leastOutstanding" -> RoutingPolicy.leastOutstanding();
          case "lowestLatency" -> RoutingPolicy.lowestLatency();
          case "lowestLatencyLocal" -> RoutingPolicy.lowestLatency(LOCAL_PROCESS);
          default -> throw new IllegalArgumentException("policy: " + policy);
        };
    keys = new Object[KEYS];
    for (int i = 0; i < KEYS; i++) {
      keys[i] = policy.equals("hash") ? "10.0." + (i / 256) + "." + (i % 256) : (Object) (long) i;
    }
    // The first selection builds the policy's tables for this view: not part of the measurement.
    selected.select(view, keys[0], stats);
  }

  /** One selection. */
  @Benchmark
  public Instance select() {
    return selected.select(view, keys[next++ & (KEYS - 1)], stats);
  }
}

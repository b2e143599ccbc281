package io.skymesh.mesh.routing;

import io.skymesh.core.exceptions.NoAvailableInstanceException;
import io.skymesh.mesh.Instance;
import io.skymesh.mesh.ServiceView;
import io.skymesh.mesh.internal.routing.ConsistentHashPolicy;
import io.skymesh.mesh.internal.routing.KeyHashPolicy;
import io.skymesh.mesh.internal.routing.LeaderPolicy;
import io.skymesh.mesh.internal.routing.LeastOutstandingPolicy;
import io.skymesh.mesh.internal.routing.LowestLatencyPolicy;
import io.skymesh.mesh.internal.routing.ModHashPolicy;
import io.skymesh.mesh.internal.routing.RandomPolicy;
import io.skymesh.mesh.internal.routing.RoundRobinPolicy;
import io.skymesh.mesh.internal.routing.SmoothWeightedRoundRobinPolicy;
import io.skymesh.mesh.internal.routing.WeightedRandomPolicy;
import io.skymesh.mesh.internal.routing.Weights;
import java.util.Objects;
import java.util.function.ToIntFunction;

/**
 * Picks one instance of a service: a function of an immutable {@link ServiceView}, an optional key
 * and per-peer statistics. A router applies it to its live view ({@code router.select(policy)},
 * {@code flux.transform(router.route(policy, keyFunction))}); it can also be called directly.
 *
 * <pre>{@code
 * RoutingPolicy policy = RoutingPolicy.consistentHash(0.25);
 * Instance owner = policy.select(router.currentView(), userId, router.peerStats());
 * }</pre>
 *
 * <p>Threading: {@code select} is called concurrently from any thread, including event loops. The
 * policies made here never block, take no lock, and allocate nothing per call once they have seen a
 * view: structures derived from a view (tables, rings) are built once per view object and cached. A
 * stateful policy (round robin, smooth weighted round robin) keeps its state per service, so one
 * policy object may serve many services without mixing their turns.
 */
@FunctionalInterface
public interface RoutingPolicy {

  /**
   * The instance attribute that overrides the registered weight in the weighted policies: a
   * non-negative decimal integer. {@code "0"} drains an instance (it gets nothing while another has
   * a positive weight); an unparseable or negative value is ignored.
   */
  String WEIGHT_ATTRIBUTE = Weights.ATTRIBUTE;

  /**
   * Picks an instance.
   *
   * @param view the live instances, sorted by url
   * @param key the request's routing key, or {@code null} when it has none; the hash policies need
   *     one
   * @param stats what is known of each instance's load and latency
   * @return one of {@code view}'s instances, never {@code null}
   * @throws NoAvailableInstanceException if {@code view} is empty
   * @throws IllegalArgumentException if the policy needs a key and {@code key} is {@code null}
   */
  Instance select(ServiceView view, Object key, PeerStats stats);

  /**
   * Round robin over the view's sorted instances: each instance exactly once in every {@code n}
   * consecutive picks of the same service while the view holds {@code n} instances. The turn is
   * kept per service (never shared between services) and starts at a random offset, so many clients
   * do not all begin with the first instance.
   *
   * @return a new round-robin policy with its own turn
   */
  static RoutingPolicy roundRobin() {
    return new RoundRobinPolicy();
  }

  /**
   * Uniformly random, from a thread-local generator.
   *
   * @return the random policy
   */
  static RoutingPolicy random() {
    return new RandomPolicy();
  }

  /**
   * Smooth weighted round robin (nginx's algorithm) over the {@link #WEIGHT_ATTRIBUTE effective
   * weights}: in every cycle of {@code sum(weights)} picks each instance is picked exactly its
   * weight times, interleaved rather than in runs (weights 5, 1, 1 give {@code a a b a c a a}).
   * When every weight is 0, all count as equal. Cycles longer than 65,536 picks are scaled down
   * proportionally (see the module README).
   *
   * @return a new policy with its own per-service turns
   */
  static RoutingPolicy weightedRoundRobin() {
    return new SmoothWeightedRoundRobinPolicy(Weights.DEFAULT);
  }

  /**
   * Smooth weighted round robin over the weights {@code weigher} gives; called once per instance
   * per view, not per pick.
   *
   * @param weigher an instance's weight, at least 0 (negative counts as 0)
   * @return a new policy with its own per-service turns
   */
  static RoutingPolicy weightedRoundRobin(ToIntFunction<Instance> weigher) {
    return new SmoothWeightedRoundRobinPolicy(Objects.requireNonNull(weigher, "weigher"));
  }

  /**
   * Random, each instance with probability {@code weight / sum(weights)} over the {@link
   * #WEIGHT_ATTRIBUTE effective weights}; instances of weight 0 are never picked unless every
   * weight is 0, in which case the pick is uniform.
   *
   * @return a new weighted-random policy
   */
  static RoutingPolicy weightedRandom() {
    return new WeightedRandomPolicy(Weights.DEFAULT);
  }

  /**
   * Weighted random over the weights {@code weigher} gives; called once per instance per view.
   *
   * @param weigher an instance's weight, at least 0 (negative counts as 0)
   * @return a new weighted-random policy
   */
  static RoutingPolicy weightedRandom(ToIntFunction<Instance> weigher) {
    return new WeightedRandomPolicy(Objects.requireNonNull(weigher, "weigher"));
  }

  /**
   * Skymesh's ModHash: instance number {@code key mod n} of the view sorted by url. An integral key
   * ({@code Long}, {@code Integer}, {@code Short}, {@code Byte}) is taken as an unsigned 64-bit
   * value; any other key is first reduced to its 64-bit hash (as {@link #hash()} does). Every
   * membership change remaps most keys: use {@link #consistentHash()} when that matters.
   *
   * @return the mod-hash policy
   */
  static RoutingPolicy modHash() {
    return new ModHashPolicy();
  }

  /**
   * Hash of the key (go-micro-service's IpHash / UrlHash, done right): a well-mixed 64-bit hash of
   * the key (strings and byte arrays by content, integral numbers by value, other objects by their
   * {@code hashCode}) mapped onto the view sorted by url, so the same key goes to the same instance
   * for as long as the membership does not change. Not consistent: a membership change remaps most
   * keys.
   *
   * @return the key-hash policy
   */
  static RoutingPolicy hash() {
    return new KeyHashPolicy();
  }

  /**
   * Consistent hashing on a ring of 160 virtual nodes per instance, placed by the hash of the
   * instance's url: when an instance leaves only its keys move, and when one joins it takes about
   * {@code 1/(n+1)} of the keys, all from others. Ignores load.
   *
   * @return a new consistent-hash policy
   */
  static RoutingPolicy consistentHash() {
    return new ConsistentHashPolicy(Double.POSITIVE_INFINITY);
  }

  /**
   * Consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam, 2018): a key goes to
   * the first instance clockwise from it on the ring whose in-flight count is below {@code ceil((1
   * + epsilon) × (total in flight + 1) / n)}, so no instance carries more than {@code 1 + epsilon}
   * times the average load, as the statistics see it. With nothing in flight it is {@link
   * #consistentHash()}.
   *
   * @param epsilon how far above the average an instance's load may go, at least 0 (0.25 is a
   *     common choice); smaller balances better and moves more keys under load
   * @return a new consistent-hash policy
   * @throws IllegalArgumentException if {@code epsilon} is negative or NaN
   */
  static RoutingPolicy consistentHash(double epsilon) {
    if (!(epsilon >= 0)) {
      throw new IllegalArgumentException("epsilon: " + epsilon + " (expected: >= 0)");
    }
    return new ConsistentHashPolicy(epsilon);
  }

  /**
   * Least outstanding requests by the power of two choices: two distinct instances at random, the
   * one with fewer requests in flight ({@link PeerStats#inFlight}) wins. Counts what is in flight,
   * not what was ever picked, so the statistics must be told when requests finish ({@link
   * PeerStatsRecorder#record}).
   *
   * @return the least-outstanding policy
   */
  static RoutingPolicy leastOutstanding() {
    return new LeastOutstandingPolicy();
  }

  /**
   * Lower latency ({@link PeerStats#latencyNanos}) by the power of two choices, without a local
   * preference.
   *
   * @return the lowest-latency policy
   * @see #lowestLatency(String, int)
   */
  static RoutingPolicy lowestLatency() {
    return new LowestLatencyPolicy(null, 0);
  }

  /**
   * Lowest latency, local first, a local instance winning while it has fewer than 256 requests in
   * flight.
   *
   * @param localProcessId this process's id ({@code mesh.processId()})
   * @return the lowest-latency policy
   * @see #lowestLatency(String, int)
   */
  static RoutingPolicy lowestLatency(String localProcessId) {
    return lowestLatency(localProcessId, LowestLatencyPolicy.DEFAULT_MAX_LOCAL_IN_FLIGHT);
  }

  /**
   * Lower latency, local first (skymesh's "best quality" without its herding). An instance in this
   * process wins while it is healthy, meaning it has fewer than {@code maxLocalInFlight} requests
   * in flight (the least busy local one if several). Otherwise the power of two choices: two
   * distinct instances drawn at random, the one with the lower latency average wins, so a pick is
   * constant-time, the slowest instance never wins and the faster half wins about three picks in
   * four (between two instances, the faster always). An instance never measured gets a neutral
   * estimate, the mean of the measured ones, rather than zero, so new instances take their share
   * without drawing all the traffic; equal averages go to fewer requests in flight, then to either.
   * Unanswered pings count as slow samples ({@link PeerStatsRecorder.Peer#unanswered}).
   *
   * @param localProcessId this process's id ({@code mesh.processId()})
   * @param maxLocalInFlight the in-flight count at which a local instance stops winning, at least 1
   * @return the lowest-latency policy
   * @throws IllegalArgumentException if {@code maxLocalInFlight} is below 1
   */
  static RoutingPolicy lowestLatency(String localProcessId, int maxLocalInFlight) {
    Objects.requireNonNull(localProcessId, "localProcessId");
    if (maxLocalInFlight < 1) {
      throw new IllegalArgumentException(
          "maxLocalInFlight: " + maxLocalInFlight + " (expected: >= 1)");
    }
    return new LowestLatencyPolicy(localProcessId, maxLocalInFlight);
  }

  /**
   * The service's elected leader, as the view says ({@link ServiceView#leaderInstance()}): the
   * instance that leads with the view's term, so {@code router.select(leader())} and a direct call
   * on {@code router.currentView()} agree.
   *
   * @return the leader policy; its {@code select} fails with {@link NoAvailableInstanceException}
   *     when nobody leads or the leader is not live in the view
   */
  static RoutingPolicy leader() {
    return LeaderPolicy.INSTANCE;
  }
}

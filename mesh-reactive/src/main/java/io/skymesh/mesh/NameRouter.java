package io.skymesh.mesh;

import io.skymesh.core.ServiceName;
import io.skymesh.mesh.routing.PeerStatsRecorder;
import io.skymesh.mesh.routing.Routed;
import io.skymesh.mesh.routing.RoutingPolicy;
import java.util.function.Function;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The live membership of one service, as hot streams fed by the name server's watch. One router per
 * service per {@link Mesh}; {@code mesh.router(name)} returns the same one each time.
 *
 * <p>While the name server is unreachable the router keeps serving the last known view; when the
 * connection comes back it resumes from the last revision it saw.
 *
 * <p>Lifecycle: when the mesh closes, every stream of its routers completes; a stream subscribed
 * after the close (on a router obtained before or after it), {@link #firstView()}, {@link #select}
 * and the picks of {@link #route} fail at once with {@code MeshClosedException}.
 *
 * <p>Routing applies a {@link RoutingPolicy} to the live view, consulting this router's {@link
 * #peerStats()}:
 *
 * <pre>{@code
 * NameRouter chat = mesh.router(ServiceName.parse("game.zone1.chat"));
 * chat.select(RoutingPolicy.roundRobin()).flatMap(i -> lobby.sendTo(i.url(), payload));
 * messages
 *     .transform(chat.route(RoutingPolicy.consistentHash(0.25), Message::userId))
 *     .flatMap(routed -> lobby.sendTo(routed.instance().url(), routed.value().payload()));
 * }</pre>
 */
public interface NameRouter {

  /** The service this router follows. */
  ServiceName serviceName();

  /**
   * Membership changes. Hot: a late subscriber first gets an {@code ADDED} event for every current
   * member, then every change after that, in revision order, never duplicated. A subscriber that
   * falls more than a bounded number of events behind gets an {@code OverloadedException} instead
   * of unbounded buffering.
   *
   * @return the events
   */
  Flux<MembershipEvent> members();

  /**
   * Attribute changes of the service's instances. Hot: a late subscriber first gets the current
   * attributes of every member (as the name server stores them, so attributes set before it
   * subscribed are there), then each change, in revision order. Changes of weight or address alone
   * and departures are not attribute changes: {@link #members()} tells those.
   *
   * @return the changes
   */
  Flux<AttributesChange> attributes();

  /**
   * The view after every change. Hot: a late subscriber gets the current view first; a slow
   * subscriber skips to the latest view (views are cumulative, so nothing is lost).
   *
   * @return the views
   */
  Flux<ServiceView> views();

  /**
   * The current view: empty until the name server's first answer arrives.
   *
   * @return the view now
   */
  ServiceView currentView();

  /**
   * The view once the name server's first answer has arrived.
   *
   * @return the first known view; fails with {@code MeshTimeoutException} if none arrives within
   *     the mesh's request timeout
   */
  Mono<ServiceView> firstView();

  /**
   * The statistics this router's {@code select} and {@code route} give their policies: requests in
   * flight and latency per instance. Callers record their requests in it ({@link
   * PeerStatsRecorder#record}); instances that leave the view are forgotten.
   *
   * @return the router's statistics, the same object for every call
   */
  PeerStatsRecorder peerStats();

  /**
   * Picks an instance by a policy that needs no key.
   *
   * @param policy the policy
   * @return the chosen instance
   * @see #select(RoutingPolicy, Object)
   */
  Mono<Instance> select(RoutingPolicy policy);

  /**
   * Picks an instance of the current view by {@code policy} for {@code key}. Lazy: the pick happens
   * at subscription, on the view current then. Before the name server's first answer it waits for
   * it, for at most the mesh's request timeout.
   *
   * @param policy the policy
   * @param key the routing key, for the hash policies
   * @return the chosen instance; fails with {@code NoAvailableInstanceException} naming the service
   *     if it has no live instance, {@code MeshTimeoutException} if the first view does not arrive
   *     in time, or whatever the policy throws ({@code IllegalArgumentException} for a missing key,
   *     {@code NoAvailableInstanceException} from {@link RoutingPolicy#leader()} when nobody leads)
   * @throws NullPointerException if {@code policy} or {@code key} is {@code null}
   */
  Mono<Instance> select(RoutingPolicy policy, Object key);

  /**
   * Routes a stream of work without keys.
   *
   * @param policy the policy
   * @param <T> the work's type
   * @return the operator
   * @see #route(RoutingPolicy, Function)
   */
  <T> Function<Flux<T>, Flux<Routed<T>>> route(RoutingPolicy policy);

  /**
   * An operator that pairs each element of a stream of work with the instance {@code policy} picks
   * for its key, on the view current when the element arrives, so the routing follows membership
   * live. The work is subscribed once the first view is known (waiting at most the mesh's request
   * timeout). An element arriving while the service has no live instance fails the stream with
   * {@code NoAvailableInstanceException} (or skips it under {@code onErrorContinue}); so does a
   * policy's failure.
   *
   * <pre>{@code
   * work.transform(router.route(RoutingPolicy.hash(), Job::customerId))
   * }</pre>
   *
   * @param policy the policy
   * @param keyFunction each element's routing key ({@code null} for none)
   * @param <T> the work's type
   * @return the operator, for {@code Flux.transform}
   * @throws NullPointerException if an argument is {@code null}
   */
  <T> Function<Flux<T>, Flux<Routed<T>>> route(
      RoutingPolicy policy, Function<? super T, ?> keyFunction);

  /**
   * The service's election leader. Hot: a late subscriber first gets the current leader (once the
   * name server's first answer has arrived), then every change, each a new leader with its term or
   * {@link Leader#none nobody}; a slow subscriber skips to the latest. Terms only grow while the
   * name server runs (a restarted in-memory name server starts again at 0).
   *
   * @return the leaders
   */
  Flux<Leader> leader();

  /**
   * The leader now, the {@link ServiceView#leader() leader of the current view}: nobody (term 0)
   * until the name server's first answer arrives.
   *
   * @return the current leader
   */
  Leader currentLeader();
}

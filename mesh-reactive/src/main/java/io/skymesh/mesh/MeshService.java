package io.skymesh.mesh;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.routing.RoutingPolicy;
import java.util.Map;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * One registered instance in the mesh: it sends to other instances, and its {@link MessageHandler}
 * receives what they send to it.
 *
 * <pre>{@code
 * MeshService lobby = mesh.register(ServiceUrl.parse("game.zone1.lobby/1"), handler).block();
 * lobby.sendTo(ServiceUrl.parse("game.zone1.chat/7"), ByteString.copyFromUtf8("hi")).subscribe();
 * }</pre>
 *
 * <p>Every method is lazy: nothing is sent until the returned {@code Mono} is subscribed, and each
 * subscription sends again.
 */
public interface MeshService {

  /** This instance's ServiceUrl. */
  ServiceUrl url();

  /**
   * Sends a fire-and-forget message to one live instance. Messages from this instance to one
   * destination arrive in the order their {@code Mono}s were subscribed.
   *
   * @param destination the receiving instance
   * @param payload the payload
   * @return completes when the frame is written to the connection (or handed to the handler, for an
   *     instance in this process); fails with {@code ServiceNotFoundException} if the destination
   *     is not alive, {@code PeerUnavailableException} if its process cannot be reached, {@code
   *     MeshClosedException} if this service is closed
   */
  default Mono<Void> sendTo(ServiceUrl destination, ByteString payload) {
    return sendTo(destination, Map.of(), payload);
  }

  /**
   * Sends a fire-and-forget message with headers to one live instance.
   *
   * @param destination the receiving instance
   * @param headers application metadata
   * @param payload the payload
   * @return as {@link #sendTo(ServiceUrl, ByteString)}
   */
  Mono<Void> sendTo(ServiceUrl destination, Map<String, String> headers, ByteString payload);

  // --- Routed sends ------------------------------------------------------------------------------

  /**
   * Picks an instance with a policy that needs no key, then sends to it.
   *
   * @param router the destination service's router
   * @param policy the routing policy
   * @param payload the payload
   * @return the instance the message was sent to, once written
   * @see #sendTo(NameRouter, RoutingPolicy, Object, ByteString)
   */
  Mono<Instance> sendTo(NameRouter router, RoutingPolicy policy, ByteString payload);

  /**
   * Picks an instance of {@code router}'s service with {@code policy} for {@code key}, as {@link
   * NameRouter#select(RoutingPolicy, Object)} does, then sends to it. The send is counted in the
   * router's {@link NameRouter#peerStats()} while it is being written.
   *
   * <pre>{@code
   * lobby.sendTo(chatRouter, RoutingPolicy.consistentHash(0.25), userId, payload)
   * }</pre>
   *
   * @param router the destination service's router
   * @param policy the routing policy
   * @param key the routing key
   * @param payload the payload
   * @return the instance the message was sent to, once written; the errors of {@code select} and of
   *     {@link #sendTo(ServiceUrl, ByteString)}
   */
  Mono<Instance> sendTo(NameRouter router, RoutingPolicy policy, Object key, ByteString payload);

  // --- Attributes --------------------------------------------------------------------------------

  /**
   * Replaces this instance's attributes. The name server stores them, so routers that subscribe
   * later see them, and they survive name-server reconnections.
   *
   * @param attributes the new attributes, all of them
   * @return completes once the name server has acknowledged the change
   */
  Mono<Void> setAttributes(Map<String, String> attributes);

  /**
   * Merges into this instance's attributes: the given keys take the given values, other keys keep
   * theirs.
   *
   * @param attributes the attributes to add or change
   * @return completes once the name server has acknowledged the change
   */
  Mono<Void> updateAttributes(Map<String, String> attributes);

  /**
   * Sends a message to every live instance of a service, this one excluded.
   *
   * @param serviceName the service
   * @param payload the payload
   * @return the number of instances it was sent to, once every frame is written; 0 if none is alive
   */
  Mono<Integer> broadcast(ServiceName serviceName, ByteString payload);

  /**
   * Leaves the mesh: deregisters with the name server (completing once it has acknowledged) and
   * stops delivering messages to the handler. Idempotent.
   *
   * @return completes when deregistered
   */
  Mono<Void> close();

  // --- Elections (issue 6) ----------------------------------------------------------------------

  /**
   * Campaigns for leadership of this instance's service, and reports this instance's leadership
   * changes: {@code GAINED} with its term when it starts leading, {@code LOST} with that term when
   * it stops. The name server's earliest live campaigner leads; when it resigns, closes or its
   * session ends, the next leads with the term + 1. The campaign survives name-server reconnections
   * (campaigning again after registering again, so leadership may move meanwhile).
   *
   * <pre>{@code
   * lobby.campaign()
   *     .subscribe(change -> log.info("{} term {}", change.type(), change.term()));
   * }</pre>
   *
   * <p>Cold: subscribing sends the Campaign. The stream completes after {@link #resign()} or {@link
   * #close()} (with a last {@code LOST} if it was leading); cancelling it resigns.
   *
   * @return the leadership changes; fails with {@code ServiceNotFoundException} if this instance is
   *     not registered, {@code MeshClosedException} if it is closed
   */
  Flux<Leadership> campaign();

  /**
   * Leaves the election: if this instance leads, the next campaigner leads. Ends the streams of
   * {@link #campaign()}. Idempotent.
   *
   * @return completes once the name server has acknowledged it
   */
  Mono<Void> resign();
}

package io.skymesh.mesh;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.Statuses;
import io.skymesh.mesh.routing.RoutingPolicy;
import io.skymesh.mesh.rpc.Reply;
import io.skymesh.mesh.rpc.RequestOptions;
import io.skymesh.proto.StatusCode;
import java.util.Map;
import java.util.Objects;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.SynchronousSink;

/**
 * One registered instance in the mesh: it sends to other instances, and its {@link MessageHandler}
 * receives what they send to it. It also calls other instances' request methods ({@code request},
 * {@code notify}) and answers its own ({@code ServiceOptions.withMethods}).
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
   * The receivers' reports about this instance's messages ({@code sendTo}, {@code broadcast},
   * {@code sendToLeader}) and notifications ({@code notify}) that never reached a handler in
   * another process, or whose handler failed there. Hot: a subscriber sees the reports that arrive
   * while it is subscribed; one that cannot keep up misses some, but {@link #undeliveredCount()}
   * counts every one.
   *
   * @return the reports, ending when this service is closed
   */
  Flux<Undelivered> undelivered();

  /** How many reports {@link #undelivered()} has had since this instance registered. */
  long undeliveredCount();

  /**
   * Sends a fire-and-forget message to one live instance. Messages from this instance to one
   * destination arrive in the order their {@code Mono}s were subscribed.
   *
   * <p>The delivery promise: a message either reaches the destination's handler or this sender
   * learns that it did not. For an instance in another process, completion means the frame was
   * written to the connection; if the receiver then cannot hand it to a handler (no such instance
   * there, or closed; a url that does not parse; fenced; the handler failed), it sends back a
   * report that arrives on {@link #undelivered()} and is counted in {@link #undeliveredCount()}.
   * For an instance in this process, completion means its handler's {@code Mono} completed, and a
   * handler's failure fails this {@code Mono} with the handler's error. Only a connection that
   * breaks after the write can lose a message without a word (as with any TCP peer).
   *
   * @param destination the receiving instance
   * @param payload the payload
   * @return completes when the frame is written to the connection (or the handler has completed,
   *     for an instance in this process); fails with {@code ServiceNotFoundException} if the
   *     destination is not alive, {@code PeerUnavailableException} if its process cannot be
   *     reached, {@code MeshClosedException} if this service is closed, the handler's error for a
   *     failed in-process handler
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
   * Sends a message to every live instance of a service, this one excluded. Every instance is sent
   * to even when sending to some fails; each send keeps the promise of {@link #sendTo(ServiceUrl,
   * ByteString)}.
   *
   * @param serviceName the service
   * @param payload the payload
   * @return the number of instances it was sent to, once every send has completed; 0 if none is
   *     alive. If any send failed, errors once every send has been tried: with that send's error,
   *     or, when several failed, with a composite exception carrying each of them ({@code
   *     reactor.core.Exceptions.unwrapMultiple} lists them)
   */
  Mono<Integer> broadcast(ServiceName serviceName, ByteString payload);

  // ---------------------------------------------------------------------------------------------
  // Request / response (mesh-reactive/README.md, "Request / response"). Every method is lazy; the
  // errors are typed: MeshTimeoutException when the timeout passes (the server stops the handler
  // too), RemoteException (or the specific exception of the status) when the handler failed,
  // carrying the status code and the handler's message, RemoteException(UNIMPLEMENTED) for an
  // unknown method, OverloadedException when the per-peer queue or the service's handler cap is
  // full, ServiceNotFoundException / PeerUnavailableException as for sendTo, MeshClosedException
  // once this service is closed. Cancelling the returned Mono sends Cancel: the server disposes
  // the handler.

  /**
   * Calls a method of one live instance with the mesh's default timeout and no headers.
   *
   * @see #request(ServiceUrl, String, ByteString, RequestOptions)
   */
  default Mono<Reply> request(ServiceUrl destination, String method, ByteString payload) {
    return request(destination, method, payload, RequestOptions.defaults());
  }

  /**
   * Calls a method of one live instance (in this process or over its peer connection) and waits for
   * its one reply.
   *
   * <pre>{@code
   * lobby.request(chat, "Join", payload, RequestOptions.defaults().withTimeout(Duration.ofSeconds(1)))
   *     .map(Reply::payload)
   * }</pre>
   *
   * @param destination the called instance
   * @param method the method name it registered
   * @param payload the serialized request
   * @param options timeout and headers
   * @return the reply, with its headers; errors as described above
   */
  Mono<Reply> request(
      ServiceUrl destination, String method, ByteString payload, RequestOptions options);

  /**
   * Calls a method with a protobuf request and parses the reply, with the mesh's default timeout.
   *
   * @see #request(ServiceUrl, String, MessageLite, Parser, RequestOptions)
   */
  default <R> Mono<R> request(
      ServiceUrl destination, String method, MessageLite request, Parser<R> replyParser) {
    return request(destination, method, request, replyParser, RequestOptions.defaults());
  }

  /**
   * Calls a method with a protobuf request and parses the reply.
   *
   * <pre>{@code
   * client.request(greeter, "SayHello", HelloRequest.newBuilder().setName("a").build(),
   *     HelloReply.parser(), RequestOptions.defaults().withTimeout(Duration.ofSeconds(1)))
   * }</pre>
   *
   * @param destination the called instance
   * @param method the method name
   * @param request the request message
   * @param replyParser parses the reply payload
   * @param options timeout and headers
   * @param <R> the reply message
   * @return the parsed reply; {@code RemoteException(INTERNAL)} if it does not parse
   */
  default <R> Mono<R> request(
      ServiceUrl destination,
      String method,
      MessageLite request,
      Parser<R> replyParser,
      RequestOptions options) {
    Objects.requireNonNull(request, "request");
    Objects.requireNonNull(replyParser, "replyParser");
    return request(destination, method, request.toByteString(), options)
        .handle((reply, sink) -> parseInto(reply, replyParser, destination, method, sink));
  }

  /**
   * Sends a one-way request (a notification) with the mesh's default timeout and no headers.
   *
   * @see #notify(ServiceUrl, String, ByteString, RequestOptions)
   */
  default Mono<Void> notify(ServiceUrl destination, String method, ByteString payload) {
    return notify(destination, method, payload, RequestOptions.defaults());
  }

  /**
   * Sends a one-way request: the destination runs the method's handler and sends nothing back when
   * it succeeds. A notification the destination refuses (no such instance or method there, fenced,
   * at its handler cap), or whose handler fails there, is reported on {@link #undelivered()} with
   * the status; an in-process handler's failure fails the returned {@code Mono} instead.
   *
   * @param destination the called instance
   * @param method the method name
   * @param payload the serialized request
   * @param options timeout (for getting it written; it also bounds the handler) and headers
   * @return completes when the request is written to the connection (or the in-process handler has
   *     finished); errors as {@link #sendTo(ServiceUrl, ByteString)}, plus {@code
   *     OverloadedException} and {@code MeshTimeoutException}
   */
  Mono<Void> notify(
      ServiceUrl destination, String method, ByteString payload, RequestOptions options);

  /**
   * Calls a method of the instance {@code router} picks by {@code policy}, counting the call in the
   * router's {@link NameRouter#peerStats()} while in flight (so {@code leastOutstanding()} and
   * {@code lowestLatency()} see it).
   *
   * <pre>{@code
   * lobby.request(chatRouter, RoutingPolicy.leastOutstanding(), null, "Join", payload,
   *     RequestOptions.defaults())
   * }</pre>
   *
   * @param router the destination service's router
   * @param policy how to pick the instance
   * @param key the routing key, or {@code null} for a policy that needs none
   * @param method the method name
   * @param payload the serialized request
   * @param options timeout and headers
   * @return the reply; also {@code NoAvailableInstanceException} if the service has no instance
   */
  Mono<Reply> request(
      NameRouter router,
      RoutingPolicy policy,
      Object key,
      String method,
      ByteString payload,
      RequestOptions options);

  /**
   * Sends a one-way request to the instance {@code router} picks by {@code policy}.
   *
   * @param router the destination service's router
   * @param policy how to pick the instance
   * @param key the routing key, or {@code null} for a policy that needs none
   * @param method the method name
   * @param payload the serialized request
   * @param options timeout and headers
   * @return as {@link #notify(ServiceUrl, String, ByteString, RequestOptions)}
   */
  Mono<Void> notify(
      NameRouter router,
      RoutingPolicy policy,
      Object key,
      String method,
      ByteString payload,
      RequestOptions options);

  // ---------------------------------------------------------------------------------------------
  // Streams

  /**
   * Calls a stream method of one live instance ({@code Methods.Builder.addStream}): one request,
   * any number of replies. Lazy: each subscription opens one stream. The subscriber's demand
   * travels to the server as credit, so the server's handler produces no more than was asked for
   * (plus one window of prefetch, {@code MeshBuilder.streamWindow}). Cancelling the {@code Flux}
   * disposes the handler's work.
   *
   * <pre>{@code
   * client.requestStream(prices, "Watch", symbol, RequestOptions.defaults())
   *     .limitRate(10)
   *     .subscribe(reply -> show(reply.payload()));
   * }</pre>
   *
   * @param destination the called instance
   * @param method the method name
   * @param payload the serialized request
   * @param options headers, and a timeout that covers the whole stream; without one (the default) a
   *     stream has no deadline ({@code MeshBuilder.defaultRequestTimeout} applies only to {@code
   *     request} and {@code notify})
   * @return the replies in order; errors as {@link #request(ServiceUrl, String, ByteString,
   *     RequestOptions)}, at any point of the stream
   */
  Flux<Reply> requestStream(
      ServiceUrl destination, String method, ByteString payload, RequestOptions options);

  /**
   * Calls a stream method with no timeout and no headers.
   *
   * @see #requestStream(ServiceUrl, String, ByteString, RequestOptions)
   */
  default Flux<Reply> requestStream(ServiceUrl destination, String method, ByteString payload) {
    return requestStream(destination, method, payload, RequestOptions.defaults());
  }

  /**
   * Calls a stream method with a protobuf request and parses each reply.
   *
   * @param destination the called instance
   * @param method the method name
   * @param request the request message
   * @param replyParser parses each reply payload
   * @param options headers and the whole stream's timeout
   * @param <R> the reply message
   * @return the parsed replies; {@code RemoteException(INTERNAL)} if one does not parse
   * @see #requestStream(ServiceUrl, String, ByteString, RequestOptions)
   */
  default <R> Flux<R> requestStream(
      ServiceUrl destination,
      String method,
      MessageLite request,
      Parser<R> replyParser,
      RequestOptions options) {
    Objects.requireNonNull(request, "request");
    Objects.requireNonNull(replyParser, "replyParser");
    return requestStream(destination, method, request.toByteString(), options)
        .handle((reply, sink) -> parseInto(reply, replyParser, destination, method, sink));
  }

  /**
   * Calls a channel method of one live instance ({@code Methods.Builder.addChannel}): a stream of
   * requests and a stream of replies, each with its own flow control. Lazy: each subscription opens
   * one channel, once {@code payloads} has given its first item (which travels with the open) or
   * completed. {@code payloads} is requested only as the server's handler asks for items, so a slow
   * handler slows the upload without buffering in between. The channel ends when the server's reply
   * stream ends; cancelling the returned {@code Flux} cancels {@code payloads} and disposes the
   * handler's work, and a handler that cancels its inbound stream cancels {@code payloads}.
   *
   * @param destination the called instance
   * @param method the method name
   * @param payloads the serialized requests
   * @param options headers (sent with the open) and the whole channel's timeout, as for {@link
   *     #requestStream(ServiceUrl, String, ByteString, RequestOptions)}
   * @return the replies in order; an error of {@code payloads} is sent to the handler's inbound
   *     stream, where the handler decides
   */
  Flux<Reply> requestChannel(
      ServiceUrl destination,
      String method,
      Publisher<ByteString> payloads,
      RequestOptions options);

  /**
   * Calls a channel method with no timeout and no headers.
   *
   * @see #requestChannel(ServiceUrl, String, Publisher, RequestOptions)
   */
  default Flux<Reply> requestChannel(
      ServiceUrl destination, String method, Publisher<ByteString> payloads) {
    return requestChannel(destination, method, payloads, RequestOptions.defaults());
  }

  /**
   * Calls a channel method with protobuf requests and parses each reply.
   *
   * @param destination the called instance
   * @param method the method name
   * @param requests the request messages
   * @param replyParser parses each reply payload
   * @param options headers and the whole channel's timeout
   * @param <R> the reply message
   * @return the parsed replies; {@code RemoteException(INTERNAL)} if one does not parse
   * @see #requestChannel(ServiceUrl, String, Publisher, RequestOptions)
   */
  default <R> Flux<R> requestChannel(
      ServiceUrl destination,
      String method,
      Publisher<? extends MessageLite> requests,
      Parser<R> replyParser,
      RequestOptions options) {
    Objects.requireNonNull(requests, "requests");
    Objects.requireNonNull(replyParser, "replyParser");
    return requestChannel(
            destination, method, Flux.from(requests).map(MessageLite::toByteString), options)
        .handle((reply, sink) -> parseInto(reply, replyParser, destination, method, sink));
  }

  /**
   * Calls a stream method of the instance {@code router} picks by {@code policy}, counting the
   * stream in the router's {@link NameRouter#peerStats()} while it is open.
   *
   * @param router the destination service's router
   * @param policy how to pick the instance
   * @param key the routing key, or {@code null} for a policy that needs none
   * @param method the method name
   * @param payload the serialized request
   * @param options headers and the whole stream's timeout
   * @return as {@link #requestStream(ServiceUrl, String, ByteString, RequestOptions)}; also {@code
   *     NoAvailableInstanceException} if the service has no instance
   */
  Flux<Reply> requestStream(
      NameRouter router,
      RoutingPolicy policy,
      Object key,
      String method,
      ByteString payload,
      RequestOptions options);

  /**
   * Calls a channel method of the instance {@code router} picks by {@code policy}, counting the
   * channel in the router's {@link NameRouter#peerStats()} while it is open.
   *
   * @param router the destination service's router
   * @param policy how to pick the instance
   * @param key the routing key, or {@code null} for a policy that needs none
   * @param method the method name
   * @param payloads the serialized requests
   * @param options headers and the whole channel's timeout
   * @return as {@link #requestChannel(ServiceUrl, String, Publisher, RequestOptions)}; also {@code
   *     NoAvailableInstanceException} if the service has no instance
   */
  Flux<Reply> requestChannel(
      NameRouter router,
      RoutingPolicy policy,
      Object key,
      String method,
      Publisher<ByteString> payloads,
      RequestOptions options);

  private static <R> void parseInto(
      Reply reply,
      Parser<R> parser,
      ServiceUrl destination,
      String method,
      SynchronousSink<R> sink) {
    try {
      sink.next(parser.parseFrom(reply.payload()));
    } catch (InvalidProtocolBufferException e) {
      sink.error(
          Statuses.toException(
              StatusCode.INTERNAL,
              "the reply of " + destination + " " + method + " does not parse: " + e));
    }
  }

  // ---------------------------------------------------------------------------------------------

  /**
   * Leaves the mesh: deregisters with the name server (completing once it has acknowledged) and
   * stops delivering messages to the handler. Idempotent.
   *
   * @return completes when deregistered
   */
  Mono<Void> close();

  // --- Elections ---------------------------------------------------------------------------------

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

  /**
   * Sends a fire-and-forget message to the current leader of a service, fenced with its term: the
   * message carries the term this mesh's router knows, and the destination drops it (logged,
   * counted) unless it leads with exactly that term, so a deposed leader never acts on a message
   * meant for its successor's term. For a leader in this process the refusal is a {@code
   * NotLeaderException}.
   *
   * @param serviceName the service whose leader receives the message
   * @param payload the payload
   * @return the leader it was sent to, once written; fails with {@code
   *     NoAvailableInstanceException} if nobody leads, {@code NotLeaderException} if an in-process
   *     destination refused it, or the errors of {@link #sendTo(ServiceUrl, ByteString)}
   */
  Mono<Leader> sendToLeader(ServiceName serviceName, ByteString payload);
}

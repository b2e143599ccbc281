package io.skymesh.mesh.internal;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.MeshClosedException;
import io.skymesh.core.exceptions.NoAvailableInstanceException;
import io.skymesh.core.exceptions.ServiceNotFoundException;
import io.skymesh.mesh.Instance;
import io.skymesh.mesh.Leader;
import io.skymesh.mesh.Leadership;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.Message;
import io.skymesh.mesh.MessageHandler;
import io.skymesh.mesh.NameRouter;
import io.skymesh.mesh.Undelivered;
import io.skymesh.mesh.internal.observation.MessageSender;
import io.skymesh.mesh.internal.peer.DataPlane;
import io.skymesh.mesh.internal.peer.LocalService;
import io.skymesh.mesh.internal.peer.ServiceEndpoint;
import io.skymesh.mesh.internal.routing.LeaderPolicy;
import io.skymesh.mesh.internal.rpc.Calls;
import io.skymesh.mesh.routing.PeerStatsRecorder;
import io.skymesh.mesh.routing.RoutingPolicy;
import io.skymesh.mesh.rpc.Reply;
import io.skymesh.mesh.rpc.RequestOptions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import org.reactivestreams.Publisher;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/**
 * A registered instance of a {@link DefaultMesh}: sends through the mesh's data plane and calls
 * through its request layer; registration, attributes and elections through the mesh.
 */
final class DefaultMeshService implements MeshService, LocalService {

  private static final Logger log = LoggerFactory.getLogger(DefaultMeshService.class);

  private final DefaultMesh mesh;
  private final DataPlane plane;
  private final MessageSender sender;
  private final Calls calls;
  private final ServiceUrl url;
  private final MessageHandler handler;
  private final ServiceEndpoint endpoint;
  private final AtomicBoolean closed = new AtomicBoolean();

  /** How long two connections' reports may spin against each other before one gives way. */
  private static final Duration REPORT_EMIT = Duration.ofMillis(50);

  /** Receivers' reports of this service's undelivered messages; counted before they are emitted. */
  private final Sinks.Many<Undelivered> reports = Sinks.many().multicast().directBestEffort();

  private final LongAdder undeliveredCount = new LongAdder();

  DefaultMeshService(
      DefaultMesh mesh,
      DataPlane plane,
      MessageSender sender,
      Calls calls,
      ServiceUrl url,
      MessageHandler handler,
      ServiceEndpoint endpoint) {
    this.mesh = mesh;
    this.plane = plane;
    this.sender = sender;
    this.calls = calls;
    this.url = url;
    this.handler = handler;
    this.endpoint = endpoint;
  }

  @Override
  public ServiceUrl url() {
    return url;
  }

  @Override
  public Mono<Void> sendTo(
      ServiceUrl destination, Map<String, String> headers, ByteString payload) {
    Objects.requireNonNull(destination, "destination");
    Objects.requireNonNull(headers, "headers");
    Objects.requireNonNull(payload, "payload");
    return Mono.defer(
        () ->
            closed.get()
                ? Mono.error(new MeshClosedException(url + " is closed"))
                : sender.send(url, destination, headers, payload, 0));
  }

  @Override
  public Mono<Instance> sendTo(NameRouter router, RoutingPolicy policy, ByteString payload) {
    Objects.requireNonNull(router, "router");
    Objects.requireNonNull(policy, "policy");
    Objects.requireNonNull(payload, "payload");
    return routedSend(router, policy, router.select(policy), payload);
  }

  @Override
  public Mono<Instance> sendTo(
      NameRouter router, RoutingPolicy policy, Object key, ByteString payload) {
    Objects.requireNonNull(router, "router");
    Objects.requireNonNull(payload, "payload");
    return routedSend(router, policy, router.select(policy, key), payload);
  }

  private Mono<Instance> routedSend(
      NameRouter router, RoutingPolicy policy, Mono<Instance> picked, ByteString payload) {
    return picked.flatMap(
        instance -> {
          long term = fencingTerm(router, policy, instance);
          Mono<Void> send =
              Mono.defer(
                  () ->
                      closed.get()
                          ? Mono.error(new MeshClosedException(url + " is closed"))
                          : sender.send(url, instance.url(), Map.of(), payload, term));
          return router.peerStats().record(instance.url(), send).thenReturn(instance);
        });
  }

  /**
   * The term a message or request routed to {@code instance} by {@code policy} carries: the
   * leader's term when the leader policy picked the current leader (the receiver refuses it unless
   * it still leads with that term), else 0 (not fenced).
   */
  private static long fencingTerm(NameRouter router, RoutingPolicy policy, Instance instance) {
    if (!(policy instanceof LeaderPolicy)) {
      return 0;
    }
    Leader leader = router.currentLeader();
    return leader.isLeader(instance.url()) ? leader.term() : 0;
  }

  @Override
  public Mono<Void> setAttributes(Map<String, String> attributes) {
    return attributes(attributes, false);
  }

  @Override
  public Mono<Void> updateAttributes(Map<String, String> attributes) {
    return attributes(attributes, true);
  }

  private Mono<Void> attributes(Map<String, String> attributes, boolean merge) {
    Map<String, String> copy = Map.copyOf(attributes);
    return Mono.defer(
        () ->
            closed.get()
                ? Mono.error(new MeshClosedException(url + " is closed"))
                : mesh.setAttributes(url, copy, merge));
  }

  @Override
  public Mono<Integer> broadcast(ServiceName serviceName, ByteString payload) {
    Objects.requireNonNull(serviceName, "serviceName");
    Objects.requireNonNull(payload, "payload");
    return Mono.defer(
        () ->
            closed.get()
                ? Mono.error(new MeshClosedException(url + " is closed"))
                : plane.broadcast(url, serviceName, payload));
  }

  // ---------------------------------------------------------------------------------------------
  // Request / response

  @Override
  public Mono<Reply> request(
      ServiceUrl destination, String method, ByteString payload, RequestOptions options) {
    return call(destination, method, payload, options, false, 0);
  }

  @Override
  public Mono<Void> notify(
      ServiceUrl destination, String method, ByteString payload, RequestOptions options) {
    return call(destination, method, payload, options, true, 0).then();
  }

  @Override
  public Mono<Reply> request(
      NameRouter router,
      RoutingPolicy policy,
      Object key,
      String method,
      ByteString payload,
      RequestOptions options) {
    return routed(router, policy, key, method, payload, options, false);
  }

  @Override
  public Mono<Void> notify(
      NameRouter router,
      RoutingPolicy policy,
      Object key,
      String method,
      ByteString payload,
      RequestOptions options) {
    return routed(router, policy, key, method, payload, options, true).then();
  }

  private Mono<Reply> routed(
      NameRouter router,
      RoutingPolicy policy,
      Object key,
      String method,
      ByteString payload,
      RequestOptions options,
      boolean oneWay) {
    return pick(router, policy, key, method, payload, options)
        .flatMap(
            instance ->
                router
                    .peerStats()
                    .record(
                        instance.url(),
                        call(
                            instance.url(),
                            method,
                            payload,
                            options,
                            oneWay,
                            fencingTerm(router, policy, instance))));
  }

  private Mono<Reply> call(
      ServiceUrl destination,
      String method,
      ByteString payload,
      RequestOptions options,
      boolean oneWay,
      long leaderTerm) {
    Objects.requireNonNull(destination, "destination");
    checkCall(method, payload, options);
    return Mono.defer(
        () ->
            closed.get()
                ? Mono.error(new MeshClosedException(url + " is closed"))
                : calls.call(
                    calls.outgoing(
                        url, destination, method, payload, options, oneWay, leaderTerm)));
  }

  @Override
  public Flux<Reply> requestStream(
      ServiceUrl destination, String method, ByteString payload, RequestOptions options) {
    return stream(destination, method, payload, null, options, 0);
  }

  @Override
  public Flux<Reply> requestChannel(
      ServiceUrl destination,
      String method,
      Publisher<ByteString> payloads,
      RequestOptions options) {
    Objects.requireNonNull(payloads, "payloads");
    return stream(destination, method, ByteString.EMPTY, payloads, options, 0);
  }

  @Override
  public Flux<Reply> requestStream(
      NameRouter router,
      RoutingPolicy policy,
      Object key,
      String method,
      ByteString payload,
      RequestOptions options) {
    return routedStream(router, policy, key, method, payload, null, options);
  }

  @Override
  public Flux<Reply> requestChannel(
      NameRouter router,
      RoutingPolicy policy,
      Object key,
      String method,
      Publisher<ByteString> payloads,
      RequestOptions options) {
    Objects.requireNonNull(payloads, "payloads");
    return routedStream(router, policy, key, method, ByteString.EMPTY, payloads, options);
  }

  /** A routed stream counts as in flight at its instance while it is open. */
  private Flux<Reply> routedStream(
      NameRouter router,
      RoutingPolicy policy,
      Object key,
      String method,
      ByteString payload,
      Publisher<ByteString> payloads,
      RequestOptions options) {
    return pick(router, policy, key, method, payload, options)
        .flatMapMany(
            instance -> {
              PeerStatsRecorder.Peer peer = router.peerStats().peer(instance.url());
              peer.started();
              return stream(
                      instance.url(),
                      method,
                      payload,
                      payloads,
                      options,
                      fencingTerm(router, policy, instance))
                  .doFinally(signal -> peer.finished());
            });
  }

  private Flux<Reply> stream(
      ServiceUrl destination,
      String method,
      ByteString payload,
      Publisher<ByteString> payloads,
      RequestOptions options,
      long leaderTerm) {
    Objects.requireNonNull(destination, "destination");
    checkCall(method, payload, options);
    return Flux.defer(
        () ->
            closed.get()
                ? Flux.error(new MeshClosedException(url + " is closed"))
                : calls.stream(
                    calls.outgoingStream(url, destination, method, payload, options, leaderTerm),
                    payloads));
  }

  /** Checks a routed call's arguments, then picks its instance. */
  private static Mono<Instance> pick(
      NameRouter router,
      RoutingPolicy policy,
      Object key,
      String method,
      ByteString payload,
      RequestOptions options) {
    Objects.requireNonNull(router, "router");
    Objects.requireNonNull(policy, "policy");
    checkCall(method, payload, options);
    return key == null ? router.select(policy) : router.select(policy, key);
  }

  private static void checkCall(String method, ByteString payload, RequestOptions options) {
    Objects.requireNonNull(method, "method");
    Objects.requireNonNull(payload, "payload");
    Objects.requireNonNull(options, "options");
    if (method.isEmpty()) {
      throw new IllegalArgumentException("method: \"\" (expected: a method name)");
    }
  }

  @Override
  public ServiceEndpoint endpoint() {
    return endpoint;
  }

  // ---------------------------------------------------------------------------------------------

  @Override
  public Mono<Void> close() {
    return Mono.defer(
            () -> closed.compareAndSet(false, true) ? mesh.deregister(this) : Mono.empty())
        .doFinally(
            signal -> {
              endCampaigns();
              reports.emitComplete(Sinks.EmitFailureHandler.busyLooping(REPORT_EMIT));
            });
  }

  /** Signals the end of every campaign stream: a resign or the close of this service. */
  private final Sinks.Many<Boolean> campaignEnds = Sinks.many().multicast().directBestEffort();

  @Override
  public Flux<Leadership> campaign() {
    return Flux.defer(
        () -> {
          if (closed.get()) {
            return Flux.error(new MeshClosedException(url + " is closed"));
          }
          NameRouter router = mesh.router(url.serviceName());
          // The term this subscriber was told it holds; 0 while it does not lead.
          long[] held = {0};
          Flux<Leadership> changes =
              router
                  .leader()
                  .concatMapIterable(
                      leader -> {
                        List<Leadership> told = new ArrayList<>(2);
                        if (leader.isLeader(url)) {
                          if (held[0] != leader.term()) {
                            if (held[0] != 0) {
                              told.add(Leadership.lost(held[0]));
                            }
                            held[0] = leader.term();
                            told.add(Leadership.gained(leader.term()));
                          }
                        } else if (held[0] != 0) {
                          told.add(Leadership.lost(held[0]));
                          held[0] = 0;
                        }
                        return told;
                      });
          Mono<Boolean> ended = campaignEnds.asFlux().next();
          return mesh.campaign(url)
              .thenMany(changes)
              .takeUntilOther(ended)
              .concatWith(
                  Flux.defer(
                      () -> {
                        long term = held[0];
                        held[0] = 0;
                        return term != 0 ? Flux.just(Leadership.lost(term)) : Flux.empty();
                      }))
              .doOnCancel(
                  () ->
                      mesh.resign(url)
                          .subscribe(
                              null, e -> log.debug("Resign of {} failed: {}", url, e.toString())));
        });
  }

  @Override
  public Mono<Void> resign() {
    return Mono.defer(() -> closed.get() ? Mono.empty() : mesh.resign(url))
        .doOnSuccess(ignored -> endCampaigns());
  }

  @Override
  public Mono<Leader> sendToLeader(ServiceName serviceName, ByteString payload) {
    Objects.requireNonNull(serviceName, "serviceName");
    Objects.requireNonNull(payload, "payload");
    return Mono.defer(
        () -> {
          if (closed.get()) {
            return Mono.error(new MeshClosedException(url + " is closed"));
          }
          NameRouter router = mesh.router(serviceName);
          return router
              .firstView()
              .flatMap(
                  view -> {
                    Leader leader = router.currentLeader();
                    if (!leader.isPresent()) {
                      return Mono.error(
                          new NoAvailableInstanceException(
                              "nobody leads " + serviceName + " (term " + leader.term() + ")"));
                    }
                    return sender
                        .send(url, leader.url().get(), Map.of(), payload, leader.term())
                        .thenReturn(leader);
                  });
        });
  }

  private void endCampaigns() {
    campaignEnds.tryEmitNext(true);
  }

  @Override
  public boolean isClosed() {
    return closed.get();
  }

  /**
   * Hands a message to the handler. The handler's error, thrown or signalled, is the returned
   * {@code Mono}'s: an in-process sender receives it, the data plane reports it to a remote one.
   */
  @Override
  public Mono<Void> deliver(Message message) {
    if (closed.get()) {
      return Mono.error(new ServiceNotFoundException(url + " is closed"));
    }
    Mono<Void> handled;
    try {
      handled = handler.handle(message);
    } catch (RuntimeException error) {
      return Mono.error(error);
    }
    return handled == null ? Mono.empty() : handled;
  }

  @Override
  public void undelivered(Undelivered report) {
    undeliveredCount.increment();
    reports.emitNext(report, Sinks.EmitFailureHandler.busyLooping(REPORT_EMIT));
  }

  @Override
  public Flux<Undelivered> undelivered() {
    return reports.asFlux();
  }

  @Override
  public long undeliveredCount() {
    return undeliveredCount.sum();
  }
}

package io.skymesh.mesh.internal;

import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.MeshClosedException;
import io.skymesh.core.exceptions.MeshTimeoutException;
import io.skymesh.core.exceptions.NoAvailableInstanceException;
import io.skymesh.core.exceptions.OverloadedException;
import io.skymesh.mesh.AttributesChange;
import io.skymesh.mesh.Instance;
import io.skymesh.mesh.Leader;
import io.skymesh.mesh.MembershipEvent;
import io.skymesh.mesh.NameRouter;
import io.skymesh.mesh.ServiceView;
import io.skymesh.mesh.internal.naming.NameServerClient;
import io.skymesh.mesh.routing.PeerStatsRecorder;
import io.skymesh.mesh.routing.Routed;
import io.skymesh.mesh.routing.RoutingPolicy;
import io.skymesh.proto.WatchEvent;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;
import reactor.core.Exceptions;
import reactor.core.publisher.BufferOverflowStrategy;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Schedulers;

/**
 * Folds a service's watch events into immutable views and serves them as hot streams.
 *
 * <p>Events are applied by one thread at a time (the name-server connection's event loop), so the
 * mutable member map needs no lock; readers only see the published immutable {@link ServiceView}.
 */
final class DefaultNameRouter implements NameRouter, Disposable {

  private static final Logger log = LoggerFactory.getLogger(DefaultNameRouter.class);

  /** How far a members() subscriber may fall behind before it is told it is too slow. */
  static final int MEMBER_EVENTS_BUFFER = 4096;

  private final ServiceName serviceName;
  private final Duration firstViewTimeout;
  private final Map<ServiceUrl, Instance> members = new HashMap<>();
  private final Sinks.Many<ViewChange> changes = Sinks.many().replay().latest();
  private final Duration reconnectGrace;
  private final Map<ServiceUrl, Long> unconfirmed = new HashMap<>();
  private final Sinks.Many<Long> graceExpiries = Sinks.many().unicast().onBackpressureBuffer();
  private final Disposable subscription;
  private volatile ServiceView view;
  private long resyncs;
  private long lastRevision;
  private final PeerStatsRecorder peerStats = PeerStatsRecorder.create();

  /** Whether {@link #view} holds the name server's answer yet (routing waits until it does). */
  private volatile boolean hasView;

  private final Sinks.Many<Leader> leaders = Sinks.many().replay().latest();
  private volatile Leader leader;

  /** Set once by {@link #dispose()}: every stream has ended, new subscribers fail at once. */
  private volatile boolean closed;

  /**
   * Creates a router over a watch.
   *
   * @param serviceName the service
   * @param events the watch's updates
   * @param firstViewTimeout how long firstView() waits
   * @param reconnectGrace how long an instance missing from a resync after a reconnection is kept
   *     before it counts as gone: its owner may not have registered with a restarted name server
   *     yet
   */
  DefaultNameRouter(
      ServiceName serviceName,
      Flux<NameServerClient.WatchUpdate> events,
      Duration firstViewTimeout,
      Duration reconnectGrace) {
    this.serviceName = serviceName;
    this.firstViewTimeout = firstViewTimeout;
    this.reconnectGrace = reconnectGrace;
    this.view = ServiceView.empty(serviceName);
    this.leader = Leader.none(serviceName, 0, 0);
    // Merged so that grace expiries are applied serially with the events, without a lock.
    this.subscription =
        Flux.<Object>merge(events, graceExpiries.asFlux())
            .subscribe(
                this::apply,
                error -> log.warn("Watch of {} ended: {}", serviceName, error.toString()));
  }

  /** A new view and the events that led to it from the previous one. */
  record ViewChange(ServiceView view, List<MembershipEvent> delta) {}

  @Override
  public ServiceName serviceName() {
    return serviceName;
  }

  @Override
  public Flux<MembershipEvent> members() {
    return live()
        .index()
        .concatMapIterable(
            indexed ->
                indexed.getT1() == 0
                    ? everyoneAdded(indexed.getT2().view())
                    : indexed.getT2().delta())
        .onBackpressureBuffer(MEMBER_EVENTS_BUFFER, dropped -> {}, BufferOverflowStrategy.ERROR)
        .onErrorMap(
            Exceptions::isOverflow,
            e ->
                new OverloadedException(
                    "members() subscriber of "
                        + serviceName
                        + " fell more than "
                        + MEMBER_EVENTS_BUFFER
                        + " events behind",
                    e));
  }

  @Override
  public Flux<AttributesChange> attributes() {
    return Flux.defer(
        () -> {
          if (closed) {
            return Flux.error(closedError());
          }
          // Per subscriber: the attributes last told for each instance, so that an UPDATED event
          // for a new weight or address alone is not reported as an attribute change.
          Map<ServiceUrl, Map<String, String>> told = new HashMap<>();
          return members()
              .handle(
                  (event, sink) -> {
                    Instance instance = event.instance();
                    if (event.type() == MembershipEvent.Type.REMOVED) {
                      told.remove(instance.url());
                    } else if (!instance
                        .attributes()
                        .equals(told.put(instance.url(), instance.attributes()))) {
                      sink.next(
                          new AttributesChange(
                              instance.url(), instance.attributes(), event.revision()));
                    }
                  });
        });
  }

  @Override
  public Flux<ServiceView> views() {
    return live().map(ViewChange::view).onBackpressureLatest();
  }

  /**
   * The view changes, the latest first; completes when the router is closed, and fails at once with
   * {@link MeshClosedException} for a subscriber that comes after (the sink would replay a stale
   * view).
   */
  private Flux<ViewChange> live() {
    return Flux.defer(() -> closed ? Flux.error(closedError()) : changes.asFlux());
  }

  private MeshClosedException closedError() {
    return new MeshClosedException("mesh is closed: no router of " + serviceName);
  }

  /** Every view change with its delta; hot, latest replayed. */
  Flux<ViewChange> changes() {
    return changes.asFlux();
  }

  @Override
  public ServiceView currentView() {
    return view;
  }

  @Override
  public Mono<ServiceView> firstView() {
    return views()
        .next()
        .switchIfEmpty(Mono.error(this::closedError))
        .timeout(
            firstViewTimeout,
            Mono.error(
                () ->
                    new MeshTimeoutException(
                        "no membership of " + serviceName + " within " + firstViewTimeout)));
  }

  @Override
  public PeerStatsRecorder peerStats() {
    return peerStats;
  }

  @Override
  public Mono<Instance> select(RoutingPolicy policy) {
    Objects.requireNonNull(policy, "policy");
    return selectFor(policy, null);
  }

  @Override
  public Mono<Instance> select(RoutingPolicy policy, Object key) {
    Objects.requireNonNull(policy, "policy");
    Objects.requireNonNull(key, "key");
    return selectFor(policy, key);
  }

  private Mono<Instance> selectFor(RoutingPolicy policy, Object key) {
    return Mono.defer(
        () ->
            hasView
                ? Mono.fromCallable(() -> pick(policy, key))
                : viewArrived().map(ignored -> pick(policy, key)));
  }

  @Override
  public <T> Function<Flux<T>, Flux<Routed<T>>> route(RoutingPolicy policy) {
    return route(policy, value -> null);
  }

  @Override
  public <T> Function<Flux<T>, Flux<Routed<T>>> route(
      RoutingPolicy policy, Function<? super T, ?> keyFunction) {
    Objects.requireNonNull(policy, "policy");
    Objects.requireNonNull(keyFunction, "keyFunction");
    return work -> {
      Flux<Routed<T>> routed =
          work.map(value -> new Routed<>(value, pick(policy, keyFunction.apply(value))));
      return Flux.defer(() -> hasView ? routed : viewArrived().flatMapMany(ignored -> routed));
    };
  }

  /**
   * The first view, delivered off the name-server connection's event loop: what the caller does
   * next (a send, a whole stream of work) must not run on the control plane's thread.
   */
  private Mono<ServiceView> viewArrived() {
    return firstView().publishOn(Schedulers.parallel());
  }

  /** The policy's pick on the current view; throws, for the operators to deliver as onError. */
  private Instance pick(RoutingPolicy policy, Object key) {
    if (closed) {
      throw closedError();
    }
    ServiceView current = view;
    if (current.isEmpty()) {
      throw new NoAvailableInstanceException("no live instance of " + serviceName);
    }
    if (policy == RoutingPolicy.leader()) {
      return leaderIn(current);
    }
    Instance chosen = policy.select(current, key, peerStats);
    if (chosen == null) {
      throw new NoAvailableInstanceException(policy + " chose no instance of " + serviceName);
    }
    return chosen;
  }

  /**
   * Closes the router: stops the watch and completes every stream; later subscribers and picks fail
   * with {@link MeshClosedException}. Idempotent.
   */
  @Override
  public void dispose() {
    closed = true;
    subscription.dispose();
    changes.emitComplete(Sinks.EmitFailureHandler.busyLooping(Duration.ofSeconds(1)));
    leaders.emitComplete(Sinks.EmitFailureHandler.busyLooping(Duration.ofSeconds(1)));
  }

  @Override
  public boolean isDisposed() {
    return closed;
  }

  private void apply(Object signal) {
    if (closed) {
      return;
    }
    if (signal instanceof Long resync) {
      expireUnconfirmed(resync);
    } else {
      NameServerClient.WatchUpdate update = (NameServerClient.WatchUpdate) signal;
      apply(update.event(), update.resyncAfterReconnect());
    }
  }

  private void apply(WatchEvent event, boolean afterReconnect) {
    List<MembershipEvent> delta = new ArrayList<>();
    long revision = event.getRevision();
    lastRevision = Math.max(lastRevision, revision);
    switch (event.getEventCase()) {
      case SNAPSHOT -> {
        updateLeader(event.getSnapshot().getLeadersList(), revision, !hasView);
        Map<ServiceUrl, Instance> next = new HashMap<>();
        for (io.skymesh.proto.Instance wire : event.getSnapshot().getInstancesList()) {
          Instance instance = Instances.fromWire(wire);
          next.put(instance.url(), instance);
          unconfirmed.remove(instance.url());
        }
        long resync = ++resyncs;
        for (Instance old : members.values()) {
          if (next.containsKey(old.url())) {
            continue;
          }
          if (afterReconnect && hasView) {
            // Kept for now: the name server may have restarted before the owner re-registered.
            next.put(old.url(), old);
            unconfirmed.put(old.url(), resync);
          } else {
            delta.add(new MembershipEvent(MembershipEvent.Type.REMOVED, old, revision));
          }
        }
        if (unconfirmed.containsValue(resync)) {
          Mono.delay(reconnectGrace)
              .subscribe(
                  tick ->
                      graceExpiries.emitNext(
                          resync, Sinks.EmitFailureHandler.busyLooping(Duration.ofSeconds(1))));
        }
        for (Instance instance : next.values()) {
          Instance old = members.get(instance.url());
          if (old == null) {
            delta.add(new MembershipEvent(MembershipEvent.Type.ADDED, instance, revision));
          } else if (!Instances.sameContent(old, instance)) {
            delta.add(new MembershipEvent(MembershipEvent.Type.UPDATED, instance, revision));
          }
        }
        members.clear();
        members.putAll(next);
      }
      case INSTANCE_ADDED, INSTANCE_UPDATED -> {
        Instance instance =
            Instances.fromWire(
                event.hasInstanceAdded() ? event.getInstanceAdded() : event.getInstanceUpdated());
        boolean wasUnconfirmed = unconfirmed.remove(instance.url()) != null;
        Instance old = members.put(instance.url(), instance);
        if (wasUnconfirmed && Instances.sameContent(old, instance)) {
          break; // back as it was: no change to report
        }
        MembershipEvent.Type type =
            old == null ? MembershipEvent.Type.ADDED : MembershipEvent.Type.UPDATED;
        delta.add(new MembershipEvent(type, instance, revision));
      }
      case INSTANCE_REMOVED -> {
        ServiceUrl url = ServiceUrl.parse(event.getInstanceRemoved().getUrl());
        unconfirmed.remove(url);
        Instance old = members.remove(url);
        if (old != null) {
          delta.add(new MembershipEvent(MembershipEvent.Type.REMOVED, old, revision));
        }
      }
      case LEADER_CHANGED -> {
        updateLeader(List.of(event.getLeaderChanged()), revision, false);
        return; // leadership is not membership
      }
      default -> {
        return; // a newer server's event
      }
    }
    publish(delta, revision);
  }

  // --- Elections (issue 6) ----------------------------------------------------------------------

  @Override
  public Flux<Leader> leader() {
    return Flux.defer(() -> closed ? Flux.error(closedError()) : leaders.asFlux())
        .onBackpressureLatest();
  }

  @Override
  public Leader currentLeader() {
    return leader;
  }

  /**
   * Takes this service's leader from a snapshot's or event's leaders (none listed: nobody leads)
   * and publishes it if it changed, or always for the first snapshot.
   */
  private void updateLeader(
      List<io.skymesh.proto.Leader> wireLeaders, long revision, boolean first) {
    Leader next = Leader.none(serviceName, 0, revision);
    String name = serviceName.toString();
    for (io.skymesh.proto.Leader wire : wireLeaders) {
      if (wire.getServiceName().equals(name)) {
        next =
            new Leader(
                serviceName,
                wire.getLeaderUrl().isEmpty()
                    ? Optional.empty()
                    : Optional.of(ServiceUrl.parse(wire.getLeaderUrl())),
                wire.getTerm(),
                revision);
      }
    }
    Leader previous = leader;
    if (!first && previous.url().equals(next.url()) && previous.term() == next.term()) {
      return;
    }
    leader = next;
    leaders.emitNext(next, Sinks.EmitFailureHandler.busyLooping(Duration.ofSeconds(1)));
  }

  /** The leader's instance in {@code current}, for {@link RoutingPolicy#leader()}. */
  private Instance leaderIn(ServiceView current) {
    Leader now = leader;
    Optional<Instance> instance = now.url().flatMap(current::instance);
    if (instance.isEmpty()) {
      throw new NoAvailableInstanceException(
          "no leader of "
              + serviceName
              + (now.url().isPresent() ? " in the view (" + now.url().get() + ")" : ""));
    }
    return instance.get();
  }

  // --- end of elections --------------------------------------------------------------------------

  /** Removes the instances a resync after a reconnection left unconfirmed, if still missing. */
  private void expireUnconfirmed(long resync) {
    List<MembershipEvent> delta = new ArrayList<>();
    unconfirmed
        .entrySet()
        .removeIf(
            entry -> {
              if (entry.getValue() != resync) {
                return false;
              }
              Instance gone = members.remove(entry.getKey());
              if (gone != null) {
                delta.add(new MembershipEvent(MembershipEvent.Type.REMOVED, gone, lastRevision));
              }
              return true;
            });
    if (!delta.isEmpty()) {
      publish(delta, lastRevision);
    }
  }

  private void publish(List<MembershipEvent> delta, long revision) {
    if (hasView && delta.isEmpty()) {
      return;
    }
    ServiceView next = new ServiceView(serviceName, List.copyOf(members.values()), revision);
    view = next;
    hasView = true;
    if (delta.stream().anyMatch(e -> e.type() == MembershipEvent.Type.REMOVED)) {
      peerStats.retain(next);
    }
    changes.emitNext(
        new ViewChange(next, List.copyOf(delta)),
        Sinks.EmitFailureHandler.busyLooping(Duration.ofSeconds(1)));
  }

  private static List<MembershipEvent> everyoneAdded(ServiceView view) {
    List<MembershipEvent> added = new ArrayList<>(view.size());
    for (Instance instance : view.instances()) {
      added.add(new MembershipEvent(MembershipEvent.Type.ADDED, instance, view.revision()));
    }
    return added;
  }

  /** Conversions between wire and API instances. */
  static final class Instances {
    private Instances() {}

    static Instance fromWire(io.skymesh.proto.Instance wire) {
      return new Instance(
          ServiceUrl.parse(wire.getUrl()),
          wire.getAddress(),
          Math.max(1, wire.getWeight()),
          wire.getAttributesMap(),
          wire.getProcessId(),
          wire.getModRevision());
    }

    static boolean sameContent(Instance a, Instance b) {
      return a.address().equals(b.address())
          && a.weight() == b.weight()
          && a.attributes().equals(b.attributes())
          && Objects.equals(a.processId(), b.processId());
    }
  }
}

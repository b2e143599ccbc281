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
import io.skymesh.mesh.internal.metrics.RouterMeters;
import io.skymesh.mesh.internal.naming.NameServerClient;
import io.skymesh.mesh.routing.PeerStatsRecorder;
import io.skymesh.mesh.routing.Routed;
import io.skymesh.mesh.routing.RoutingPolicy;
import io.skymesh.proto.Snapshot;
import io.skymesh.proto.WatchEvent;
import java.time.Duration;
import java.util.AbstractList;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.RandomAccess;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
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

  /**
   * How many changes may wait for a members() or attributes() subscriber that is behind before it
   * is told it is too slow.
   */
  static final int PENDING_CHANGES = 4096;

  private final ServiceName serviceName;
  private final Duration firstViewTimeout;
  private final Sinks.Many<ViewChange> changes = Sinks.many().replay().latest();
  private final Duration reconnectGrace;
  private final Map<ServiceUrl, Long> unconfirmed = new HashMap<>();
  private final Sinks.Many<Long> graceExpiries = Sinks.many().unicast().onBackpressureBuffer();
  private final Disposable subscription;
  private volatile ServiceView view;

  /** Resync snapshots applied; written by the applying thread only, read by meters. */
  private volatile long resyncs;

  private final RouterMeters meters;
  private long lastRevision;
  private final PeerStatsRecorder peerStats = PeerStatsRecorder.create();

  /** Whether {@link #view} holds the name server's answer yet (routing waits until it does). */
  private volatile boolean hasView;

  private final Sinks.Many<Leader> leaders = Sinks.many().replay().latest();

  /** The current view's instances by address, for connection release and the latency probe. */
  private final ConcurrentHashMap<String, Set<ServiceUrl>> byAddress = new ConcurrentHashMap<>();

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
    this(serviceName, events, firstViewTimeout, reconnectGrace, RouterMeters.NONE);
  }

  /**
   * Creates a router over a watch, metered.
   *
   * @param serviceName the service
   * @param events the watch's updates
   * @param firstViewTimeout how long firstView() waits
   * @param reconnectGrace see the other constructor
   * @param meters the router's meters
   */
  DefaultNameRouter(
      ServiceName serviceName,
      Flux<NameServerClient.WatchUpdate> events,
      Duration firstViewTimeout,
      Duration reconnectGrace,
      RouterMeters meters) {
    this.meters = meters;
    this.serviceName = serviceName;
    this.firstViewTimeout = firstViewTimeout;
    this.reconnectGrace = reconnectGrace;
    this.view = ServiceView.empty(serviceName);
    meters.bind(this::currentView, this::resyncs);
    // Merged so that grace expiries are applied serially with the events, without a lock.
    this.subscription =
        Flux.<Object>merge(events, graceExpiries.asFlux())
            .subscribe(
                this::apply,
                error -> log.warn("Watch of {} ended: {}", serviceName, error.toString()));
  }

  /**
   * A new view, the membership events that led to it from the previous one, and the attribute
   * changes among them (an instance's first attributes, then each change of them).
   */
  record ViewChange(
      ServiceView view, List<MembershipEvent> delta, List<AttributesChange> attributes) {}

  @Override
  public ServiceName serviceName() {
    return serviceName;
  }

  @Override
  public Flux<MembershipEvent> members() {
    return paced(change -> change.delta(), DefaultNameRouter::everyoneAdded, "members()");
  }

  @Override
  public Flux<AttributesChange> attributes() {
    return paced(
        change -> change.attributes(), DefaultNameRouter::everyonesAttributes, "attributes()");
  }

  /**
   * A late subscriber's stream: the current view as {@code snapshot} says (read lazily, at the
   * subscriber's pace, however large), then each later change's {@code part}. Changes that arrive
   * while the subscriber is behind wait in a buffer of {@link #PENDING_CHANGES}; past it the stream
   * fails with {@link OverloadedException}.
   */
  private <T> Flux<T> paced(
      Function<ViewChange, List<T>> part, Function<ServiceView, List<T>> snapshot, String name) {
    return live()
        .onBackpressureBuffer(PENDING_CHANGES, dropped -> {}, BufferOverflowStrategy.ERROR)
        .onErrorMap(
            Exceptions::isOverflow,
            e ->
                new OverloadedException(
                    name
                        + " subscriber of "
                        + serviceName
                        + " fell more than "
                        + PENDING_CHANGES
                        + " changes behind",
                    e))
        .index()
        // One change at a time: the buffer above is the only place changes wait.
        .concatMapIterable(
            indexed ->
                indexed.getT1() == 0
                    ? snapshot.apply(indexed.getT2().view())
                    : part.apply(indexed.getT2()),
            1);
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

  /** How many resync snapshots this router has compared with its view and applied. */
  long resyncs() {
    return resyncs;
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
      meters.picked(policy, false);
      throw new NoAvailableInstanceException("no live instance of " + serviceName);
    }
    Instance chosen = policy.select(current, key, peerStats);
    meters.picked(policy, chosen != null);
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
    meters.close();
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
    long revision = event.getRevision();
    lastRevision = Math.max(lastRevision, revision);
    switch (event.getEventCase()) {
      case SNAPSHOT -> applySnapshot(event.getSnapshot(), revision, afterReconnect);
      case INSTANCE_ADDED, INSTANCE_UPDATED -> {
        Instance instance =
            Instances.fromWire(
                event.hasInstanceAdded() ? event.getInstanceAdded() : event.getInstanceUpdated());
        boolean wasUnconfirmed = unconfirmed.remove(instance.url()) != null;
        ServiceView current = view;
        Instance old = current.instance(instance.url()).orElse(null);
        if (wasUnconfirmed && old != null && Instances.sameContent(old, instance)) {
          return; // back as it was: no change to report
        }
        indexAddress(old, instance);
        MembershipEvent.Type type =
            old == null ? MembershipEvent.Type.ADDED : MembershipEvent.Type.UPDATED;
        publish(
            current.with(instance, revision),
            List.of(new MembershipEvent(type, instance, revision)),
            attributesChanged(old, instance, revision)
                ? List.of(new AttributesChange(instance.url(), instance.attributes(), revision))
                : List.of());
      }
      case INSTANCE_REMOVED -> {
        ServiceUrl url = ServiceUrl.parse(event.getInstanceRemoved().getUrl());
        unconfirmed.remove(url);
        ServiceView current = view;
        Instance old = current.instance(url).orElse(null);
        if (old != null) {
          forget(old);
          publish(
              current.without(url, revision),
              List.of(new MembershipEvent(MembershipEvent.Type.REMOVED, old, revision)),
              List.of());
        }
      }
      case LEADER_CHANGED -> {
        Leader next = leaderIn(List.of(event.getLeaderChanged()), revision);
        ServiceView current = view;
        if (!sameLeader(current.leader(), next)) {
          ServiceView led = current.withLeader(next, revision);
          if (hasView) {
            publishLeader(led);
            publish(led, List.of(), List.of());
          } else {
            view = led;
            publishLeader(led);
          }
        }
      }
      default -> {
        // A newer server's event: nothing to apply.
      }
    }
  }

  /**
   * Applies a snapshot: the first one becomes the view; a later one (a resync) is compared with the
   * view, and only its differences are applied and reported.
   */
  private void applySnapshot(Snapshot snapshot, long revision, boolean afterReconnect) {
    Leader leader = leaderIn(snapshot.getLeadersList(), revision);
    Map<ServiceUrl, Instance> incoming = new LinkedHashMap<>();
    for (io.skymesh.proto.Instance wire : snapshot.getInstancesList()) {
      Instance instance = Instances.fromWire(wire);
      incoming.put(instance.url(), instance);
      unconfirmed.remove(instance.url());
    }
    if (!hasView) {
      ServiceView first = ServiceView.of(serviceName, incoming.values(), leader, revision);
      incoming.values().forEach(instance -> indexAddress(null, instance));
      view = first;
      publishLeader(first);
      publish(first, everyoneAdded(first), everyonesAttributes(first));
      return;
    }
    ServiceView current = view;
    ServiceView next = current;
    List<MembershipEvent> delta = new ArrayList<>();
    List<AttributesChange> attributes = new ArrayList<>();
    long resync = ++resyncs;
    for (Instance old : current.instances()) {
      if (incoming.containsKey(old.url())) {
        continue;
      }
      if (afterReconnect) {
        // Kept for now: the name server may have restarted before the owner re-registered.
        unconfirmed.put(old.url(), resync);
      } else {
        forget(old);
        next = next.without(old.url(), revision);
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
    for (Instance instance : incoming.values()) {
      Instance old = current.instance(instance.url()).orElse(null);
      if (old != null && Instances.sameContent(old, instance)) {
        continue;
      }
      indexAddress(old, instance);
      next = next.with(instance, revision);
      MembershipEvent.Type type =
          old == null ? MembershipEvent.Type.ADDED : MembershipEvent.Type.UPDATED;
      delta.add(new MembershipEvent(type, instance, revision));
      if (attributesChanged(old, instance, revision)) {
        attributes.add(new AttributesChange(instance.url(), instance.attributes(), revision));
      }
    }
    boolean newLeader = !sameLeader(current.leader(), leader);
    if (newLeader) {
      next = next.withLeader(leader, revision);
    }
    // One line per resync (a state change), never per instance.
    log.info(
        "Resynced the view of {} at revision {}{}: {} change(s), {} kept unconfirmed{}",
        serviceName,
        revision,
        afterReconnect ? " after a reconnection" : "",
        delta.size(),
        unconfirmed.size(),
        newLeader ? ", a new leader" : "");
    if (delta.isEmpty() && !newLeader) {
      return;
    }
    if (newLeader) {
      publishLeader(next);
    }
    publish(next, List.copyOf(delta), List.copyOf(attributes));
  }

  private static boolean attributesChanged(Instance old, Instance now, long revision) {
    return old == null || !old.attributes().equals(now.attributes());
  }

  @Override
  public Flux<Leader> leader() {
    return Flux.defer(() -> closed ? Flux.error(closedError()) : leaders.asFlux())
        .onBackpressureLatest();
  }

  @Override
  public Leader currentLeader() {
    return view.leader();
  }

  /** This service's leader among a snapshot's or event's leaders (none listed: nobody leads). */
  private Leader leaderIn(List<io.skymesh.proto.Leader> wireLeaders, long revision) {
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
    return next;
  }

  private static boolean sameLeader(Leader a, Leader b) {
    return a.url().equals(b.url()) && a.term() == b.term();
  }

  private void publishLeader(ServiceView led) {
    leaders.emitNext(led.leader(), Sinks.EmitFailureHandler.busyLooping(Duration.ofSeconds(1)));
  }

  /** Removes the instances a resync after a reconnection left unconfirmed, if still missing. */
  private void expireUnconfirmed(long resync) {
    List<MembershipEvent> delta = new ArrayList<>();
    ServiceView next = view;
    for (Iterator<Map.Entry<ServiceUrl, Long>> entries = unconfirmed.entrySet().iterator();
        entries.hasNext(); ) {
      Map.Entry<ServiceUrl, Long> entry = entries.next();
      if (entry.getValue() != resync) {
        continue;
      }
      entries.remove();
      Instance gone = next.instance(entry.getKey()).orElse(null);
      if (gone != null) {
        forget(gone);
        next = next.without(gone.url(), lastRevision);
        delta.add(new MembershipEvent(MembershipEvent.Type.REMOVED, gone, lastRevision));
      }
    }
    if (!delta.isEmpty()) {
      publish(next, List.copyOf(delta), List.of());
    }
  }

  private void publish(
      ServiceView next, List<MembershipEvent> delta, List<AttributesChange> attributes) {
    view = next;
    hasView = true;
    meters.applied(delta);
    changes.emitNext(
        new ViewChange(next, delta, attributes),
        Sinks.EmitFailureHandler.busyLooping(Duration.ofSeconds(1)));
  }

  /** A departed instance: out of the address index and the statistics. */
  private void forget(Instance gone) {
    indexAddress(gone, null);
    peerStats.forget(gone.url());
  }

  /** Moves {@code old}'s url (if any) to {@code now}'s address (if any) in the address index. */
  private void indexAddress(Instance old, Instance now) {
    if (old != null && (now == null || !old.address().equals(now.address()))) {
      byAddress.computeIfPresent(
          old.address(),
          (address, urls) -> {
            urls.remove(old.url());
            return urls.isEmpty() ? null : urls;
          });
    }
    if (now != null && (old == null || !old.address().equals(now.address()))) {
      byAddress
          .computeIfAbsent(now.address(), address -> ConcurrentHashMap.newKeySet())
          .add(now.url());
    }
  }

  /** Whether an instance of the current view lives at {@code address}: constant-time. */
  boolean hosts(String address) {
    return byAddress.containsKey(address);
  }

  /** The urls of the current view's instances at {@code address}, a live set; empty if none. */
  Set<ServiceUrl> instancesAt(String address) {
    Set<ServiceUrl> urls = byAddress.get(address);
    return urls == null ? Set.of() : urls;
  }

  /** An ADDED event per instance of {@code view}, made as they are read. */
  private static List<MembershipEvent> everyoneAdded(ServiceView view) {
    return new Mapped<>(
        view.instances(),
        instance -> new MembershipEvent(MembershipEvent.Type.ADDED, instance, view.revision()));
  }

  /** Every instance's attributes in {@code view}, made as they are read. */
  private static List<AttributesChange> everyonesAttributes(ServiceView view) {
    return new Mapped<>(
        view.instances(),
        instance -> new AttributesChange(instance.url(), instance.attributes(), view.revision()));
  }

  /** A read-only list of the instances, each mapped as it is read (no copy of a large view). */
  private static final class Mapped<T> extends AbstractList<T> implements RandomAccess {
    private final List<Instance> instances;
    private final Function<Instance, T> mapping;

    Mapped(List<Instance> instances, Function<Instance, T> mapping) {
      this.instances = instances;
      this.mapping = mapping;
    }

    @Override
    public T get(int index) {
      return mapping.apply(instances.get(index));
    }

    @Override
    public int size() {
      return instances.size();
    }
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

package io.skymesh.mesh.internal.peer;

import com.google.protobuf.ByteString;
import io.skymesh.codec.Headers;
import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.NotLeaderException;
import io.skymesh.core.exceptions.ServiceNotFoundException;
import io.skymesh.core.exceptions.Statuses;
import io.skymesh.mesh.Instance;
import io.skymesh.mesh.Leader;
import io.skymesh.mesh.MembershipEvent;
import io.skymesh.mesh.Message;
import io.skymesh.mesh.Undelivered;
import io.skymesh.mesh.internal.metrics.MeshMetrics;
import io.skymesh.mesh.internal.transport.InboundData;
import io.skymesh.mesh.internal.transport.InboundDispatcher;
import io.skymesh.mesh.internal.transport.InboundFrame;
import io.skymesh.mesh.internal.transport.InboundRequest;
import io.skymesh.mesh.internal.transport.InboundResponse;
import io.skymesh.mesh.internal.transport.OutboundData;
import io.skymesh.mesh.internal.transport.PeerConnection;
import io.skymesh.mesh.internal.transport.PeerTransport;
import io.skymesh.mesh.internal.transport.PeerTransportConfig;
import io.skymesh.proto.PeerFrame;
import io.skymesh.proto.Status;
import io.skymesh.proto.StatusCode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.util.concurrent.Queues;

/**
 * The data plane of one mesh: the services of this process, where a destination is (here or at a
 * peer's address, fenced or not), the one cache of open connections, sending and broadcasting
 * {@code Data}, the switch every inbound frame goes through, and the release of connections to
 * processes nobody watches any more.
 *
 * <p>A destination is resolved in one place for messages and requests alike: {@link #admit} says
 * whether it is a live service of this process and whether a leader-routed term lets it in; {@link
 * #addressOf} and {@link #connection} find a remote one. The request / response layer plugs in
 * through {@link RequestFrames}; it depends on this package, never the other way round.
 */
public final class DataPlane implements InboundDispatcher {

  private static final Logger log = LoggerFactory.getLogger(DataPlane.class);

  private final PeerTransport transport;
  private final Directory directory;
  private final UrlCache urls = new UrlCache();
  private final Map<ServiceUrl, LocalService> local = new ConcurrentHashMap<>();
  private final Map<ServiceUrl, DestinationLane> lanes = new ConcurrentHashMap<>();
  private final Map<String, PeerConnection> connections = new ConcurrentHashMap<>();
  private final LongAdder fencedMessages = new LongAdder();
  private final Map<StatusCode, LongAdder> dropped = new EnumMap<>(StatusCode.class);
  private final LongAdder reportsLost = new LongAdder();
  private final LongAdder ignoredFrames = new LongAdder();
  private final MeshMetrics metrics;
  private final Map<String, LongAdder> undeliveredFrom = new ConcurrentHashMap<>();
  private volatile RequestFrames requests = RequestFrames.NONE;
  private final int maxPendingSends;
  private final int inboundQueue;
  private final long inboundHoldNanos;

  /** Per connection, the lane of each service of this process it has delivered to. */
  private final Map<PeerConnection, Map<ServiceUrl, InboundLane>> inbound =
      new ConcurrentHashMap<>();

  /**
   * Creates the data plane and its transport; nothing is bound until {@code transport().bind()}.
   *
   * @param config the transport's configuration
   * @param directory the mesh's routers
   * @param inboundQueue how many messages of one connection may wait for one service's handler
   * @param inboundHold how long a full queue may hold its connection before the service's further
   *     messages are refused
   * @param metrics the mesh's meters
   */
  public DataPlane(
      PeerTransportConfig config,
      Directory directory,
      int inboundQueue,
      Duration inboundHold,
      MeshMetrics metrics) {
    this.metrics = Objects.requireNonNull(metrics, "metrics");
    this.inboundQueue = inboundQueue;
    this.inboundHoldNanos = inboundHold.toNanos();
    this.directory = Objects.requireNonNull(directory, "directory");
    this.transport = PeerTransport.create(config, this);
    this.maxPendingSends = config.maxPendingSends();
    for (StatusCode code : StatusCode.values()) {
      dropped.put(code, new LongAdder());
    }
  }

  /**
   * Plugs in the request / response layer; call once, before the transport is bound.
   *
   * @param requests the layer
   */
  public void attach(RequestFrames requests) {
    this.requests = Objects.requireNonNull(requests, "requests");
  }

  /** The peer transport, for lifecycle, metrics and tests. */
  public PeerTransport transport() {
    return transport;
  }

  /** The mesh's address conversions, shared by messages and requests. */
  public UrlCache urls() {
    return urls;
  }

  /** How many leader-routed messages this process refused because their term was stale. */
  public long fencedMessages() {
    return fencedMessages.sum();
  }

  /**
   * How many messages and notifications from peers this process did not hand to a handler (or whose
   * handler failed), by the status it reported back to the sender.
   *
   * @param code the reported status
   * @return the count since start
   */
  public long dropped(StatusCode code) {
    LongAdder count = dropped.get(code);
    return count == null ? 0 : count.sum();
  }

  /**
   * How many reports of {@link #dropped} could not be written (their connection was closing, or its
   * event loop was gone).
   */
  public long reportsLost() {
    return reportsLost.sum();
  }

  /** How many frames from peers were of a kind this process does not know, and so ignored. */
  public long ignoredFrames() {
    return ignoredFrames.sum();
  }

  /** The mesh's meters, for the layers above. */
  public MeshMetrics metrics() {
    return metrics;
  }

  /**
   * How many reports of undelivered messages the process at {@code address} sent this one.
   *
   * @param address the peer's listen address
   * @return the count since start
   */
  public long undeliveredFrom(String address) {
    LongAdder count = undeliveredFrom.get(address);
    return count == null ? 0 : count.sum();
  }

  // ---------------------------------------------------------------------------------------------
  // Services of this process

  /**
   * Adds a service of this process.
   *
   * @param service the service
   * @return false if a service with its url is here already
   */
  public boolean register(LocalService service) {
    return local.putIfAbsent(service.url(), service) == null;
  }

  /**
   * Removes a service of this process, if it is still the one registered at its url.
   *
   * @param service the service
   */
  public void deregister(LocalService service) {
    local.remove(service.url(), service);
  }

  /** The services of this process. */
  public List<LocalService> services() {
    return List.copyOf(local.values());
  }

  // ---------------------------------------------------------------------------------------------
  // Resolution

  /**
   * The live service of this process a message or request for {@code destination} goes to: the
   * in-process shortcut and the fencing check, the same for both and for both directions.
   *
   * @param destination the addressed instance
   * @param leaderTerm the leader term the sender routed by, or 0 if not leader-routed
   * @return the service, or {@code null} if none of this process lives at that url
   * @throws NotLeaderException if the service does not lead with exactly {@code leaderTerm}, as
   *     this process's router of its service says
   */
  public LocalService admit(ServiceUrl destination, long leaderTerm) {
    LocalService service = local.get(destination);
    if (service == null || service.isClosed()) {
      return null;
    }
    if (leaderTerm != 0) {
      Leader leader = directory.router(destination.serviceName()).currentLeader();
      if (!leader.isLeader(destination) || leader.term() != leaderTerm) {
        throw new NotLeaderException(notLeader(destination, leaderTerm, leader));
      }
    }
    return service;
  }

  private static String notLeader(ServiceUrl destination, long term, Leader leader) {
    return destination
        + " does not lead "
        + destination.serviceName()
        + " with term "
        + term
        + " (it knows "
        + leader
            .url()
            .map(url -> url + " with term " + leader.term())
            .orElse("no leader, term " + leader.term())
        + ")";
  }

  /**
   * The listen address of a live instance's process.
   *
   * @param destination the instance
   * @return its process's address; {@code ServiceNotFoundException} if it is not alive
   */
  public Mono<String> addressOf(ServiceUrl destination) {
    String known = knownAddress(destination);
    if (known != null) {
      return Mono.just(known);
    }
    return directory
        .router(destination.serviceName())
        .firstView()
        .flatMap(
            view ->
                view.instance(destination)
                    .map(instance -> Mono.just(instance.address()))
                    .orElseGet(
                        () ->
                            Mono.error(
                                new ServiceNotFoundException(
                                    destination + " is not alive in the mesh"))));
  }

  /**
   * The listen address of a live instance as the current view has it, or {@code null} if the view
   * does not have it (yet): the per-request fast path, no {@code Mono}, where {@link #addressOf}
   * would wait for the first view (it subscribes to the views and arms a timer each time).
   *
   * @param destination an instance's url
   * @return its address, or {@code null}
   */
  public @Nullable String knownAddress(ServiceUrl destination) {
    Instance known =
        directory
            .router(destination.serviceName())
            .currentView()
            .instance(destination)
            .orElse(null);
    return known == null ? null : known.address();
  }

  /**
   * The open connection to a process, if this mesh holds one: the per-call fast path, no {@code
   * Mono}.
   *
   * @param address the process's listen address
   * @return the connection, or {@code null}
   */
  public PeerConnection openConnection(String address) {
    PeerConnection known = connections.get(address);
    return known != null && known.isOpen() ? known : null;
  }

  /**
   * The connection to a process: the one this mesh holds, else a new one (the transport dials once
   * for every caller that asks meanwhile), remembered for the next caller.
   *
   * @param address the process's listen address
   * @return the connection, after its handshake
   */
  public Mono<PeerConnection> connection(String address) {
    PeerConnection known = openConnection(address);
    if (known != null) {
      return Mono.just(known);
    }
    return transport.connection(address).doOnNext(fresh -> connections.put(address, fresh));
  }

  /** The connection to a live instance's process; {@code ServiceNotFoundException} if none. */
  private Mono<PeerConnection> connectionTo(ServiceUrl destination) {
    return addressOf(destination).flatMap(this::connection);
  }

  // ---------------------------------------------------------------------------------------------
  // Sending

  /**
   * Sends a message: to a service of this process through its handler, else as a {@code Data} frame
   * on the destination's lane.
   *
   * @param source the sender
   * @param destination the addressee
   * @param headers the message's headers
   * @param payload the payload
   * @param leaderTerm the leader term the sender routed by (the receiver refuses the message unless
   *     the destination still leads with it), or 0
   * @return see {@code MeshService.sendTo}
   */
  public Mono<Void> send(
      ServiceUrl source,
      ServiceUrl destination,
      Map<String, String> headers,
      ByteString payload,
      long leaderTerm) {
    LocalService inProcess;
    try {
      inProcess = admit(destination, leaderTerm);
    } catch (NotLeaderException e) {
      return metrics.send(destination.serviceName(), payload.size(), Mono.error(e));
    }
    if (inProcess != null) {
      return metrics.send(
          destination.serviceName(),
          payload.size(),
          inProcess.deliver(new Message(source, destination, headers, payload)));
    }
    OutboundData frame =
        new OutboundData(urls.utf8(source), urls.utf8(destination), headers, payload, leaderTerm);
    DestinationLane lane = lanes.get(destination);
    if (lane == null) {
      lane =
          lanes.computeIfAbsent(
              destination,
              url ->
                  new DestinationLane(
                      url, this::connectionTo, () -> lanes.remove(url), maxPendingSends));
    }
    return metrics.send(destination.serviceName(), payload.size(), lane.send(frame));
  }

  /**
   * Sends a message to every live instance of a service but the sender.
   *
   * @param source the sender
   * @param serviceName the service
   * @param payload the payload
   * @return how many instances it was sent to; if any send failed, its error (several: a composite)
   *     once every send has been tried
   */
  public Mono<Integer> broadcast(ServiceUrl source, ServiceName serviceName, ByteString payload) {
    return directory
        .router(serviceName)
        .firstView()
        .flatMapMany(view -> Flux.fromIterable(view.instances()))
        .filter(instance -> !instance.url().equals(source))
        .flatMapDelayError(
            instance -> send(source, instance.url(), Map.of(), payload, 0).thenReturn(1),
            Queues.SMALL_BUFFER_SIZE,
            Queues.XS_BUFFER_SIZE)
        .reduce(0, Integer::sum);
  }

  // ---------------------------------------------------------------------------------------------
  // Receiving

  @Override
  public Mono<Void> dispatch(InboundFrame inbound) {
    if (inbound.frame() instanceof InboundRequest request) {
      return requests.onRequest(request, inbound.connection());
    }
    if (inbound.frame() instanceof InboundResponse response) {
      return requests.onResponse(response, inbound.connection());
    }
    if (inbound.frame() instanceof InboundData data) {
      return onData(data, inbound.connection());
    }
    PeerFrame frame = (PeerFrame) inbound.frame();
    return switch (frame.getBodyCase()) {
      case CANCEL -> requests.onCancel(frame.getCancel(), inbound.connection());
      case GO_AWAY -> requests.onGoAway(frame.getGoAway(), inbound.connection());
      case STREAM_OPEN, STREAM_ITEM, STREAM_CREDIT, STREAM_END, STREAM_CANCEL ->
          requests.onStream(frame, inbound.connection());
      case UNDELIVERED -> onUndelivered(frame.getUndelivered(), inbound.connection());
      default -> {
        // A newer peer's frame, or none: counted, as nothing answers it.
        ignoredFrames.increment();
        log.debug("Ignoring peer frame {}", frame.getBodyCase());
        yield Mono.empty();
      }
    };
  }

  private Mono<Void> onData(InboundData data, PeerConnection connection) {
    ServiceUrl destination;
    ServiceUrl source;
    try {
      destination = urls.parse(data.destination());
      source = urls.parse(data.source());
    } catch (IllegalArgumentException e) {
      log.warn("Refusing a message with a bad ServiceUrl from {}: {}", connection, e.getMessage());
      return report(data, connection, StatusCode.INVALID_ARGUMENT, e.getMessage());
    }
    Status refused = connection.refusal(source);
    if (refused != null) {
      return report(data, connection, refused.getCode(), refused.getMessage());
    }
    String oversized = Headers.check(data.headers());
    if (oversized != null) {
      return report(data, connection, StatusCode.INVALID_ARGUMENT, oversized);
    }
    LocalService service;
    try {
      service = admit(destination, data.leaderTerm());
    } catch (NotLeaderException e) {
      fencedMessages.increment();
      log.debug("Refusing a leader-routed message from {}: {}", source, e.getMessage());
      return report(data, connection, StatusCode.ABORTED, e.getMessage());
    }
    if (service == null) {
      log.debug("Refusing a message for {}: not registered here", destination);
      return report(
          data, connection, StatusCode.NOT_FOUND, destination + " is not registered here");
    }
    Message message =
        new Message(source, destination, Headers.toMap(data.headers()), data.payload());
    return lane(connection, service).offer(message, data.pooledPayload());
  }

  @Override
  public Mono<Void> handled(PeerConnection connection) {
    Map<ServiceUrl, InboundLane> lanes = inbound.get(connection);
    if (lanes == null) {
      return Mono.empty();
    }
    List<Mono<Void>> waits = null;
    for (InboundLane lane : lanes.values()) {
      Mono<Void> wait = lane.handled();
      if (wait != Mono.<Void>empty()) {
        if (waits == null) {
          waits = new ArrayList<>();
        }
        waits.add(wait);
      }
    }
    return waits == null ? Mono.empty() : Mono.when(waits);
  }

  /** The lane of a service on a connection; the connection's event loop only. */
  private InboundLane lane(PeerConnection connection, LocalService service) {
    Map<ServiceUrl, InboundLane> lanes = inbound.get(connection);
    if (lanes == null) {
      lanes = new HashMap<>();
      inbound.put(connection, lanes);
      connection
          .onClose()
          .subscribe(null, e -> inbound.remove(connection), () -> inbound.remove(connection));
    }
    InboundLane lane = lanes.get(service.url());
    if (lane == null || lane.service() != service) {
      // A service registered again at the same url gets a lane of its own.
      lane = new InboundLane(this, connection, service, inboundQueue, inboundHoldNanos);
      lanes.put(service.url(), lane);
    }
    return lane;
  }

  /** Refuses a message that did not reach a lane: releases its payload and reports it. */
  private Mono<Void> report(
      InboundData data, PeerConnection connection, StatusCode code, String why) {
    data.release();
    return report(connection, data.source(), data.destination(), "", code, why);
  }

  /**
   * Tells the sender of a message or notification that it was not handed to a handler, and counts
   * it. The connection reads its next frame once the report is written, so a flood of refused
   * messages is paced by the socket.
   *
   * @param connection where the message came from
   * @param source its source, as it named it
   * @param destination its destination, as it named it
   * @param method a notification's method, or empty
   * @param code why
   * @param why the details
   * @return completes when the report is written (or could not be)
   */
  public Mono<Void> report(
      PeerConnection connection,
      String source,
      String destination,
      String method,
      StatusCode code,
      String why) {
    dropped.get(code).increment();
    PeerFrame frame =
        PeerFrame.newBuilder()
            .setUndelivered(
                io.skymesh.proto.Undelivered.newBuilder()
                    .setSource(source)
                    .setDestination(destination)
                    .setMethod(method)
                    .setStatus(Status.newBuilder().setCode(code).setMessage(why)))
            .build();
    return connection
        .send(frame)
        .onErrorResume(
            e -> {
              reportsLost.increment();
              log.warn(
                  "Could not tell {} that a message to {} was dropped: {}",
                  connection,
                  destination,
                  e.toString());
              return Mono.empty();
            });
  }

  /**
   * Counts messages dropped where no report can be written back, as {@link #report} would have
   * reported them, with their reports lost, and says so.
   *
   * @param connection where they came from
   * @param service the service they were for
   * @param code why, as a report would have said
   * @param count how many
   * @param why the details
   */
  void unreported(
      PeerConnection connection, ServiceUrl service, StatusCode code, int count, String why) {
    dropped.get(code).add(count);
    reportsLost.add(count);
    log.warn(
        "{} messages to {} from {} were dropped, and their sender cannot be told: {}",
        count,
        service,
        connection,
        why);
  }

  private Mono<Void> onUndelivered(io.skymesh.proto.Undelivered report, PeerConnection connection) {
    undeliveredFrom
        .computeIfAbsent(connection.remoteAddress(), address -> new LongAdder())
        .increment();
    LocalService sender = null;
    try {
      sender = local.get(urls.parse(report.getSource()));
    } catch (IllegalArgumentException e) {
      // A report about a message whose source did not parse: counted per peer only.
    }
    Status status = report.getStatus();
    if (status.getCode() == StatusCode.OK) {
      status = status.toBuilder().setCode(StatusCode.UNKNOWN).build();
    }
    metrics.undelivered(status.getCode());
    if (sender == null) {
      log.warn(
          "{} did not deliver a message from {} to {}: {} {}",
          connection,
          report.getSource(),
          report.getDestination(),
          status.getCode(),
          status.getMessage());
      return Mono.empty();
    }
    sender.undelivered(
        new Undelivered(
            sender.url(),
            report.getDestination(),
            report.getMethod(),
            Statuses.toException(status, report.getDestination())));
    return Mono.empty();
  }

  // ---------------------------------------------------------------------------------------------
  // Departures

  /**
   * Follows a router's membership changes: forgets the lanes of departed or moved instances, and
   * releases the connection to a process once no watched instance lives there.
   *
   * @param delta what changed
   */
  public void departed(List<MembershipEvent> delta) {
    for (MembershipEvent event : delta) {
      if (event.type() == MembershipEvent.Type.ADDED) {
        continue;
      }
      // A departed or moved instance: the next send resolves it afresh.
      lanes.remove(event.instance().url());
      if (event.type() != MembershipEvent.Type.REMOVED) {
        continue;
      }
      String address = event.instance().address();
      if (!inUse(address)) {
        requests.forget(address);
        connections.remove(address);
        // Requests already on their way there are answered first (a peer closing gracefully
        // deregisters, then finishes them), each bounded by its deadline; an instance that
        // appeared there meanwhile keeps the connection.
        requests
            .idle(address)
            .then(Mono.defer(() -> inUse(address) ? Mono.empty() : transport.release(address)))
            .subscribe(null, e -> log.debug("Release of {}: {}", address, e));
      }
    }
  }

  /** Whether a watched instance lives at {@code address}, or it is this process's own. */
  private boolean inUse(String address) {
    return address.equals(transport.listenAddress()) || directory.hosts(address);
  }
}

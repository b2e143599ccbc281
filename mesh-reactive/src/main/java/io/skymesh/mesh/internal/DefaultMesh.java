package io.skymesh.mesh.internal;

import com.google.protobuf.ByteString;
import io.skymesh.codec.Headers;
import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.AlreadyRegisteredException;
import io.skymesh.core.exceptions.MeshClosedException;
import io.skymesh.core.exceptions.NotLeaderException;
import io.skymesh.core.exceptions.ServiceNotFoundException;
import io.skymesh.mesh.ConfigStore;
import io.skymesh.mesh.Instance;
import io.skymesh.mesh.Leader;
import io.skymesh.mesh.MembershipEvent;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.Message;
import io.skymesh.mesh.MessageHandler;
import io.skymesh.mesh.NameRouter;
import io.skymesh.mesh.ServiceOptions;
import io.skymesh.mesh.internal.naming.NameServerClient;
import io.skymesh.mesh.internal.rpc.Calls;
import io.skymesh.mesh.internal.rpc.RpcClient;
import io.skymesh.mesh.internal.rpc.RpcServer;
import io.skymesh.mesh.internal.rpc.ServiceEndpoint;
import io.skymesh.mesh.internal.transport.InboundFrame;
import io.skymesh.mesh.internal.transport.PeerConnection;
import io.skymesh.mesh.internal.transport.PeerTransport;
import io.skymesh.mesh.internal.transport.PeerTransportConfig;
import io.skymesh.mesh.rpc.Reply;
import io.skymesh.mesh.rpc.RequestOptions;
import io.skymesh.proto.Data;
import io.skymesh.proto.PeerFrame;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;
import reactor.core.Disposables;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/** The mesh: a name-server session, a peer transport, local services and routers. */
public final class DefaultMesh implements Mesh {

  private static final Logger log = LoggerFactory.getLogger(DefaultMesh.class);

  private final MeshConfig config;
  private final String processId;
  private final NameServerClient names;
  private final PeerTransport peers;
  private final Map<ServiceUrl, DestinationLane> lanes = new ConcurrentHashMap<>();
  private final Map<ServiceUrl, DefaultMeshService> local = new ConcurrentHashMap<>();
  private final Map<ServiceName, DefaultNameRouter> routers = new ConcurrentHashMap<>();
  private final Disposable.Swap probing = Disposables.swap();

  /** Leader-routed messages received here and dropped because their term was stale. */
  private final LongAdder fencedMessages = new LongAdder();

  private final DefaultConfigStore configStore;

  /** One per mesh: the Data path, the caller's side and the server side see the same urls. */
  private final UrlCache urls = new UrlCache();

  private final RpcClient rpcClient = new RpcClient(urls);
  private final RpcServer rpcServer;
  private final Calls calls;
  private volatile String listenAddress;
  private volatile boolean closed;

  private DefaultMesh(MeshConfig config, String processId) {
    this.config = config;
    this.processId = processId;
    this.names = new NameServerClient(config.naming());
    this.configStore = new DefaultConfigStore(names);
    this.peers =
        PeerTransport.create(
            PeerTransportConfig.builder()
                .host(config.host())
                .port(config.port())
                .processId(processId)
                .appId(config.appId())
                .maxFrameLength(config.maxFrameLength())
                .build(),
            this::dispatch);
    this.rpcServer =
        new RpcServer(
            this::endpoint, config.rpc().serverInterceptors(), this::fencingProblem, urls);
    this.calls =
        new Calls(
            config.rpc(), rpcClient, rpcServer, this::endpoint, this::addressOf, peers::connection);
  }

  /**
   * Starts a mesh: binds the peer listener, then opens the name-server session.
   *
   * @param config the configuration
   * @return the started mesh
   */
  public static Mono<Mesh> start(MeshConfig config) {
    return Mono.defer(
        () -> {
          DefaultMesh mesh = new DefaultMesh(config, UUID.randomUUID().toString());
          return mesh.peers
              .bind()
              .doOnNext(transport -> mesh.listenAddress = transport.listenAddress())
              .then(mesh.names.start())
              .doOnSuccess(started -> mesh.startProbing())
              .thenReturn((Mesh) mesh)
              .onErrorResume(error -> mesh.close().then(Mono.error(error)));
        });
  }

  @Override
  public String appId() {
    return config.appId();
  }

  @Override
  public String processId() {
    return processId;
  }

  @Override
  public String listenAddress() {
    return listenAddress;
  }

  @Override
  public Mono<MeshService> register(
      ServiceUrl url, MessageHandler handler, ServiceOptions options) {
    Objects.requireNonNull(url, "url");
    Objects.requireNonNull(handler, "handler");
    Objects.requireNonNull(options, "options");
    if (!url.appId().equals(config.appId())) {
      throw new IllegalArgumentException(
          "url: " + url + " (expected: a ServiceUrl of appId " + config.appId() + ")");
    }
    return Mono.defer(
        () -> {
          if (closed) {
            return Mono.error(new MeshClosedException("mesh is closed"));
          }
          DefaultMeshService service =
              new DefaultMeshService(
                  this,
                  url,
                  handler,
                  new ServiceEndpoint(
                      url, options.methods(), config.rpc().maxConcurrentHandlers()));
          if (local.putIfAbsent(url, service) != null) {
            return Mono.error(
                new AlreadyRegisteredException(url + " is already registered in this process"));
          }
          io.skymesh.proto.Instance wire =
              io.skymesh.proto.Instance.newBuilder()
                  .setUrl(url.toString())
                  .setAddress(listenAddress)
                  .setWeight(options.weight())
                  .putAllAttributes(options.attributes())
                  .setProcessId(processId)
                  .build();
          return names
              .register(wire)
              .thenReturn((MeshService) service)
              .doOnError(error -> local.remove(url, service));
        });
  }

  @Override
  public NameRouter router(ServiceName serviceName) {
    Objects.requireNonNull(serviceName, "serviceName");
    return routers.computeIfAbsent(
        serviceName,
        name -> {
          DefaultNameRouter router =
              new DefaultNameRouter(
                  name, names.watch(name.toString()), config.requestTimeout(), config.sessionTtl());
          router.changes().subscribe(this::releaseDeparted);
          return router;
        });
  }

  @Override
  public Mono<Void> closeGracefully(Duration timeout) {
    Objects.requireNonNull(timeout, "timeout");
    return Mono.defer(
        () -> {
          closed = true;
          return Flux.fromIterable(local.values())
              .flatMap(DefaultMeshService::close)
              // No new requests; the ones in flight finish, then the connections drain.
              .then(peers.goAway())
              .then(rpcServer.whenIdle())
              .then(peers.closeGracefully(timeout))
              .timeout(timeout, Mono.empty())
              .then(shutDown());
        });
  }

  @Override
  public Mono<Void> close() {
    return Mono.defer(
        () -> {
          closed = true;
          local.values().forEach(service -> service.close().subscribe(null, e -> {}));
          return peers.close().then(shutDown());
        });
  }

  @Override
  public Mesh closeOnShutdown(Duration timeout) {
    Objects.requireNonNull(timeout, "timeout");
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> closeGracefully(timeout).block(timeout.plusSeconds(1)), "skymesh-shutdown"));
    return this;
  }

  // --- Elections and KV config (issue 6) ---------------------------------------------------------

  @Override
  public ConfigStore config() {
    return configStore;
  }

  Mono<Void> campaign(ServiceUrl url) {
    return names.campaign(url.toString()).then();
  }

  Mono<Void> resign(ServiceUrl url) {
    return names.resign(url.toString());
  }

  /**
   * Why a leader-routed message for {@code destination} with {@code term} must be refused, or null
   * if the destination leads with exactly that term, as this mesh's router of its service says. For
   * the peer transport's Data frames and, later, leader-routed requests.
   */
  String fencingProblem(ServiceUrl destination, long term) {
    Leader leader = router(destination.serviceName()).currentLeader();
    if (leader.isLeader(destination) && leader.term() == term) {
      return null;
    }
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

  /** How many leader-routed messages this mesh dropped because their term was stale. */
  public long fencedMessages() {
    return fencedMessages.sum();
  }

  /** The name-server client, for fault-injection tests ({@link NameServerClient#disconnect()}). */
  public NameServerClient nameServerClient() {
    return names;
  }

  // --- end of elections and KV config -----------------------------------------------------------

  /** The peer transport, for metrics and tests. */
  public PeerTransport transport() {
    return peers;
  }

  private void startProbing() {
    if (!config.pingInterval().isZero()) {
      probing.update(
          new LatencyProbe(config.pingInterval(), peers, processId, routers::values).start());
    }
  }

  private Mono<Void> shutDown() {
    probing.dispose();
    routers.values().forEach(DefaultNameRouter::dispose);
    return names.close();
  }

  Mono<Void> deregister(DefaultMeshService service) {
    // Forget it locally first: the url may be registered again as soon as close() completes.
    local.remove(service.url(), service);
    return names.deregister(service.url().toString());
  }

  Mono<Void> setAttributes(ServiceUrl url, Map<String, String> attributes, boolean merge) {
    return names.setAttributes(url.toString(), attributes, merge).then();
  }

  Mono<Void> send(
      ServiceUrl source, ServiceUrl destination, Map<String, String> headers, ByteString payload) {
    return send(source, destination, headers, payload, 0);
  }

  /** Sends a Data frame; {@code leaderTerm} > 0 fences it (see {@link #fencingProblem}). */
  Mono<Void> send(
      ServiceUrl source,
      ServiceUrl destination,
      Map<String, String> headers,
      ByteString payload,
      long leaderTerm) {
    DefaultMeshService inProcess = local.get(destination);
    if (inProcess != null && !inProcess.isClosed()) {
      String fenced = leaderTerm == 0 ? null : fencingProblem(destination, leaderTerm);
      if (fenced != null) {
        return Mono.error(new NotLeaderException(fenced));
      }
      return inProcess.deliver(new Message(source, destination, headers, payload));
    }
    PeerFrame frame = data(source, destination, headers, payload, leaderTerm);
    DestinationLane lane = lanes.get(destination);
    if (lane == null) {
      lane =
          lanes.computeIfAbsent(
              destination,
              url -> new DestinationLane(url, this::connectionTo, () -> lanes.remove(url)));
    }
    return lane.send(frame);
  }

  /** The connection to a live instance's process; {@code ServiceNotFoundException} if none. */
  private Mono<PeerConnection> connectionTo(ServiceUrl destination) {
    return addressOf(destination).flatMap(peers::connection);
  }

  Mono<Integer> broadcast(ServiceUrl source, ServiceName serviceName, ByteString payload) {
    return router(serviceName)
        .firstView()
        .flatMapMany(view -> Flux.fromIterable(view.instances()))
        .filter(instance -> !instance.url().equals(source))
        .flatMap(instance -> send(source, instance.url(), Map.of(), payload).thenReturn(1))
        .reduce(0, Integer::sum);
  }

  private Mono<Void> dispatch(InboundFrame inbound) {
    PeerFrame frame = inbound.frame();
    return switch (frame.getBodyCase()) {
      case DATA -> dispatchData(frame);
      case REQUEST -> rpcServer.onRequest(frame.getRequest(), inbound.connection());
      case RESPONSE -> rpcClient.onResponse(frame.getResponse(), inbound.connection());
      case CANCEL -> rpcServer.onCancel(frame.getCancel(), inbound.connection());
      case GO_AWAY -> rpcClient.onGoAway(frame.getGoAway(), inbound.connection());
      default -> {
        log.debug("Ignoring peer frame {}", frame.getBodyCase());
        yield Mono.empty();
      }
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Request / response

  Mono<Reply> call(
      ServiceUrl source,
      ServiceUrl destination,
      String method,
      ByteString payload,
      RequestOptions options,
      boolean oneWay,
      long leaderTerm) {
    return calls.call(
        calls.outgoing(source, destination, method, payload, options, oneWay, leaderTerm));
  }

  /** The request side of a live service of this process, or {@code null}. */
  private ServiceEndpoint endpoint(ServiceUrl url) {
    DefaultMeshService service = local.get(url);
    return service == null || service.isClosed() ? null : service.endpoint();
  }

  /** The listen address of a live instance's process; {@code ServiceNotFoundException} if none. */
  private Mono<String> addressOf(ServiceUrl destination) {
    NameRouter router = router(destination.serviceName());
    // The per-request fast path: firstView() subscribes to the views and arms a timer each time.
    Optional<Instance> known = router.currentView().instance(destination);
    if (known.isPresent()) {
      return Mono.just(known.get().address());
    }
    return router
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

  /** The request / response internals, for tests and metrics. */
  public Calls calls() {
    return calls;
  }

  /** The server side of requests, for tests and metrics. */
  public RpcServer rpcServer() {
    return rpcServer;
  }

  // ---------------------------------------------------------------------------------------------

  private Mono<Void> dispatchData(PeerFrame frame) {
    Data data = frame.getData();
    ServiceUrl destination;
    ServiceUrl source;
    try {
      destination = urls.parse(data.getDestination());
      source = urls.parse(data.getSource());
    } catch (IllegalArgumentException e) {
      log.warn("Dropping a message with a bad ServiceUrl: {}", e.getMessage());
      return Mono.empty();
    }
    DefaultMeshService service = local.get(destination);
    if (service == null) {
      log.debug("Dropping a message for {}: not registered here", destination);
      return Mono.empty();
    }
    if (data.getLeaderTerm() != 0) {
      String fenced = fencingProblem(destination, data.getLeaderTerm());
      if (fenced != null) {
        // Fire-and-forget has no answer to carry the error: dropped, logged and counted.
        fencedMessages.increment();
        log.debug("Dropping a leader-routed message from {}: {}", source, fenced);
        return Mono.empty();
      }
    }
    return service.deliver(
        new Message(source, destination, Headers.toMap(data.getHeadersList()), data.getPayload()));
  }

  /** Whether a watched instance lives at {@code address}, or it is this process's own. */
  private boolean inUse(String address) {
    return address.equals(listenAddress)
        || routers.values().stream()
            .flatMap(router -> router.currentView().instances().stream())
            .map(Instance::address)
            .anyMatch(address::equals);
  }

  /** Closes the connection to a process once no watched instance lives there any more. */
  private void releaseDeparted(DefaultNameRouter.ViewChange change) {
    for (MembershipEvent event : change.delta()) {
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
        calls.forget(address);
        // Requests already on their way there are answered first (a peer closing gracefully
        // deregisters, then finishes them), each bounded by its deadline; an instance that
        // appeared there meanwhile keeps the connection.
        rpcClient
            .idle(address)
            .then(Mono.defer(() -> inUse(address) ? Mono.empty() : peers.release(address)))
            .subscribe(null, e -> log.debug("Release of {}: {}", address, e));
      }
    }
  }

  private PeerFrame data(
      ServiceUrl source,
      ServiceUrl destination,
      Map<String, String> headers,
      ByteString payload,
      long leaderTerm) {
    Data.Builder data =
        Data.newBuilder()
            .setSourceBytes(urls.utf8(source))
            .setDestinationBytes(urls.utf8(destination))
            .setPayload(payload)
            .setLeaderTerm(leaderTerm);
    if (!headers.isEmpty()) {
      data.addAllHeaders(Headers.fromMap(headers));
    }
    return PeerFrame.newBuilder().setData(data).build();
  }
}

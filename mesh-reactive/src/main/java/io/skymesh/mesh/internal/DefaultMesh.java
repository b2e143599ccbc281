package io.skymesh.mesh.internal;

import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.AlreadyRegisteredException;
import io.skymesh.core.exceptions.MeshClosedException;
import io.skymesh.mesh.ConfigStore;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.MeshSession;
import io.skymesh.mesh.MessageHandler;
import io.skymesh.mesh.NameRouter;
import io.skymesh.mesh.ServiceOptions;
import io.skymesh.mesh.internal.metrics.ConnectionMeters;
import io.skymesh.mesh.internal.metrics.MeshMetrics;
import io.skymesh.mesh.internal.naming.NameServerClient;
import io.skymesh.mesh.internal.observation.MeshObservations;
import io.skymesh.mesh.internal.observation.MessageSender;
import io.skymesh.mesh.internal.peer.DataPlane;
import io.skymesh.mesh.internal.peer.Directory;
import io.skymesh.mesh.internal.peer.LocalService;
import io.skymesh.mesh.internal.peer.ServiceEndpoint;
import io.skymesh.mesh.internal.rpc.Calls;
import io.skymesh.mesh.internal.rpc.RpcClient;
import io.skymesh.mesh.internal.rpc.RpcConfig;
import io.skymesh.mesh.internal.rpc.RpcServer;
import io.skymesh.mesh.internal.transport.PeerTickets;
import io.skymesh.mesh.internal.transport.PeerTransport;
import io.skymesh.mesh.internal.transport.PeerTransportConfig;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;
import reactor.core.Disposable;
import reactor.core.Disposables;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The mesh: wiring and lifecycle. The name-server session and the routers on one side, the data
 * plane (services of this process, connections, messages) and the request / response layer on the
 * other; the mesh starts and closes them in order.
 */
public final class DefaultMesh implements Mesh {

  private final MeshConfig config;
  private final String processId;
  private final NameServerClient names;
  private final DataPlane plane;
  private final PeerTransport peers;
  private final @Nullable PeerTickets tickets;
  private final Map<ServiceName, DefaultNameRouter> routers = new ConcurrentHashMap<>();
  private final Disposable.Swap probing = Disposables.swap();
  private final DefaultConfigStore configStore;
  private final RpcServer rpcServer;
  private final Calls calls;
  private final @Nullable MeshObservations observations;
  private final MessageSender sender;
  private final MeshMetrics metrics;
  private volatile String listenAddress;
  private volatile boolean closed;

  private DefaultMesh(MeshConfig config, String processId) {
    this.config = config;
    this.processId = processId;
    this.names = new NameServerClient(config.naming());
    this.configStore = new DefaultConfigStore(names);
    this.metrics = MeshMetrics.of(config.meterRegistry());
    this.tickets =
        config.peerTickets() ? new PeerTickets(names::issueTicket, config.naming().timer()) : null;
    PeerTransportConfig.Builder transport =
        PeerTransportConfig.builder()
            .host(config.host())
            .port(config.port())
            .advertisedPort(config.advertisedPort())
            .tls(config.peerServerTls(), config.peerClientTls())
            .tickets(tickets)
            .processId(processId)
            .appId(config.appId())
            .maxFrameLength(config.maxFrameLength())
            .maxPendingSends(config.maxPendingSends())
            .writeStallTimeout(config.writeStallTimeout())
            .pooledPayloads(config.rpc().pooledPayloads())
            .loops(config.peerLoops());
    if (config.advertisedHost() != null) {
      transport.advertisedHost(config.advertisedHost());
    }
    if (tickets != null) {
      // After a reconnection the name server's key may have changed (another node, a restart):
      // learn it now rather than at the next renewal.
      PeerTickets held = tickets;
      names.onSessionReopened(() -> held.renewNow().subscribe());
    }
    ConnectionMeters connectionMeters = metrics.connections();
    if (connectionMeters != null) {
      transport
          .channelMetrics(connectionMeters.recorder(true), connectionMeters.recorder(false))
          .onConnected(connectionMeters::opened);
    }
    this.plane =
        new DataPlane(
            transport.build(),
            new Directory() {
              @Override
              public NameRouter router(ServiceName serviceName) {
                return DefaultMesh.this.router(serviceName);
              }

              @Override
              public boolean hosts(String address) {
                for (DefaultNameRouter router : routers.values()) {
                  if (router.hosts(address)) {
                    return true;
                  }
                }
                return false;
              }
            },
            config.inboundQueuePerService(),
            config.inboundHold(),
            metrics);
    this.peers = plane.transport();
    // With the NOOP registry nothing wraps the paths: no observation code runs per call.
    this.observations = MeshObservations.of(config.observationRegistry());
    RpcConfig rpc = observations == null ? config.rpc() : observations.instrument(config.rpc());
    this.rpcServer = new RpcServer(plane, rpc.serverInterceptors(), rpc.streamWindow());
    this.calls = new Calls(rpc, new RpcClient(plane.urls(), metrics), rpcServer, plane);
    this.sender = observations == null ? plane::send : observations.sender(plane::send);
    plane.attach(calls);
    MeshGauges.bind(metrics, plane, calls, rpcServer, names, tickets);
    if (connectionMeters != null) {
      connectionMeters.requestLoad(MeshGauges.requestLoad(calls));
    }
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
              .then(mesh.tickets == null ? Mono.empty() : mesh.tickets.start())
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
                  plane,
                  sender,
                  calls,
                  url,
                  observations == null ? handler : observations.handler(handler),
                  new ServiceEndpoint(
                      url, options.methods(), config.rpc().maxConcurrentHandlers()));
          if (!plane.register(service)) {
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
              .doOnError(error -> plane.deregister(service));
        });
  }

  @Override
  public NameRouter router(ServiceName serviceName) {
    Objects.requireNonNull(serviceName, "serviceName");
    DefaultNameRouter router =
        routers.computeIfAbsent(
            serviceName,
            name -> {
              DefaultNameRouter created =
                  new DefaultNameRouter(
                      name,
                      names.watch(name.toString()),
                      config.requestTimeout(),
                      config.sessionTtl(),
                      metrics.router(name));
              created.changes().subscribe(change -> plane.departed(change.delta()));
              return created;
            });
    if (closed) {
      router.dispose(); // its streams end at once, like those of the routers closed with the mesh
    }
    return router;
  }

  @Override
  public Mono<Void> closeGracefully(Duration timeout) {
    Objects.requireNonNull(timeout, "timeout");
    return Mono.defer(
        () -> {
          closed = true;
          return Flux.fromIterable(plane.services())
              .flatMap(LocalService::close)
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
          plane.services().forEach(service -> service.close().subscribe(null, e -> {}));
          return peers.close().then(shutDown());
        });
  }

  @Override
  public Mesh closeOnShutdown(Duration timeout) {
    Objects.requireNonNull(timeout, "timeout");
    // A blocking edge: the JVM runs the hook on a thread of its own and exits when it returns.
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> closeGracefully(timeout).block(timeout.plusSeconds(1)), "skymesh-shutdown"));
    return this;
  }

  @Override
  public MeshSession session() {
    String nodes = config.naming().describeNameServers();
    if (closed) {
      return new MeshSession(MeshSession.State.CLOSED, null, nodes);
    }
    InetSocketAddress node = names.nameServer();
    return node == null
        ? new MeshSession(MeshSession.State.CONNECTING, null, nodes)
        : new MeshSession(
            MeshSession.State.OPEN, node.getHostString() + ":" + node.getPort(), nodes);
  }

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

  /** How many leader-routed messages this mesh dropped because their term was stale. */
  public long fencedMessages() {
    return plane.fencedMessages();
  }

  /** The name-server client, for fault-injection tests ({@link NameServerClient#disconnect()}). */
  public NameServerClient nameServerClient() {
    return names;
  }

  /** The data plane, for metrics and tests. */
  public DataPlane dataPlane() {
    return plane;
  }

  /** This mesh's peer tickets, or null unless it requires them; for metrics and tests. */
  public @Nullable PeerTickets tickets() {
    return tickets;
  }

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
    if (tickets != null) {
      tickets.close();
    }
    routers.values().forEach(DefaultNameRouter::dispose);
    configStore.close();
    metrics.close();
    return names.close();
  }

  Mono<Void> deregister(DefaultMeshService service) {
    // Forget it locally first: the url may be registered again as soon as close() completes.
    plane.deregister(service);
    return names.deregister(service.url().toString());
  }

  Mono<Void> setAttributes(ServiceUrl url, Map<String, String> attributes, boolean merge) {
    return names.setAttributes(url.toString(), attributes, merge).then();
  }

  /** The request / response internals, for tests and metrics. */
  public Calls calls() {
    return calls;
  }

  /** The server side of requests, for tests and metrics. */
  public RpcServer rpcServer() {
    return rpcServer;
  }
}

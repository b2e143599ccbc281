package io.skymesh.mesh;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.observation.ObservationRegistry;
import io.netty.handler.ssl.SslContext;
import io.skymesh.codec.Frames;
import io.skymesh.mesh.internal.DefaultMesh;
import io.skymesh.mesh.internal.MeshConfig;
import io.skymesh.mesh.internal.naming.NameServerClientConfig;
import io.skymesh.mesh.internal.rpc.RpcConfig;
import io.skymesh.mesh.internal.transport.PeerTransportConfig;
import io.skymesh.mesh.rpc.ClientInterceptor;
import io.skymesh.mesh.rpc.ServerInterceptor;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import reactor.netty.resources.LoopResources;

/**
 * Configures and starts a {@link Mesh}. Each setter checks its argument and returns this builder.
 *
 * <pre>{@code
 * Mesh mesh = Mesh.builder("game")
 *     .nameServers("10.0.0.1:9099,10.0.0.2:9099")
 *     .sessionTtl(Duration.ofSeconds(10))
 *     .start()
 *     .block();
 * }</pre>
 */
public final class MeshBuilder {

  private final String appId;
  private List<InetSocketAddress> nameServers =
      List.of(InetSocketAddress.createUnresolved("127.0.0.1", 9099));
  private String host = "127.0.0.1";
  private int port;
  private Duration sessionTtl = Duration.ofSeconds(10);
  private Duration requestTimeout = Duration.ofSeconds(10);
  private Duration reconnectMinBackoff = Duration.ofMillis(100);
  private Duration reconnectMaxBackoff = Duration.ofSeconds(5);
  private Duration startTimeout = Duration.ofSeconds(30);
  private int maxFrameLength = Frames.DEFAULT_MAX_FRAME_LENGTH;
  private Duration pingInterval = Duration.ofSeconds(1);
  private int maxPendingSends = PeerTransportConfig.DEFAULT_MAX_PENDING_SENDS;
  private Duration writeStallTimeout = PeerTransportConfig.DEFAULT_WRITE_STALL_TIMEOUT;
  private int inboundQueuePerService = 1024;
  private Duration inboundHold = Duration.ofSeconds(2);
  // Request / response
  private Duration defaultRequestTimeout = RpcConfig.DEFAULT_REQUEST_TIMEOUT;
  private int maxRequestsInFlightPerPeer = RpcConfig.DEFAULT_MAX_IN_FLIGHT_PER_PEER;
  private int maxPendingRequestsPerPeer = RpcConfig.DEFAULT_MAX_PENDING_PER_PEER;
  private int maxConcurrentHandlersPerService = RpcConfig.DEFAULT_MAX_CONCURRENT_HANDLERS;
  private int streamWindow = RpcConfig.DEFAULT_STREAM_WINDOW;
  private boolean pooledPayloads;
  private final List<ClientInterceptor> clientInterceptors = new ArrayList<>();
  private final List<ServerInterceptor> serverInterceptors = new ArrayList<>();
  private @Nullable MeterRegistry meterRegistry;
  private @Nullable String advertisedHost;
  private int advertisedPort;
  private String token = "";
  private @Nullable SslContext nameServerTls;
  private @Nullable SslContext peerServerTls;
  private @Nullable SslContext peerClientTls;
  private boolean peerTickets;
  private ObservationRegistry observationRegistry = ObservationRegistry.NOOP;
  private @Nullable LoopResources peerLoops;

  MeshBuilder(String appId) {
    // Validated the same way as a ServiceName part, so that a bad appId fails here.
    new io.skymesh.core.ServiceName(Objects.requireNonNull(appId, "appId"), "env", "service");
    this.appId = appId;
  }

  /**
   * The name server's address, {@code host:port}; default {@code 127.0.0.1:9099}. Replaces what
   * {@link #nameServers(String)} set.
   */
  public MeshBuilder nameServer(String hostPort) {
    this.nameServers = List.of(MeshConfig.parseHostPort("nameServer", hostPort));
    return this;
  }

  /**
   * The nodes of a name-server cluster, {@code host:port[,host:port...]}; replaces what {@link
   * #nameServer(String)} set. The mesh connects to one of them (chosen at random, to spread a
   * cluster's clients) and, when that node dies or stops answering for half the session TTL, moves
   * to the next in the list, round the list with backoff; there it resumes its session if the node
   * can, and otherwise registers its instances again. Its watches resume from the last revision
   * they delivered. One node is a valid list.
   *
   * <pre>{@code
   * Mesh.builder("game").nameServers("10.0.0.1:9099,10.0.0.2:9099,10.0.0.3:9099")
   * }</pre>
   *
   * @param hostPorts the nodes, comma-separated, blanks around entries ignored
   * @return this builder
   * @throws IllegalArgumentException for an empty entry, a bad port, or a node given twice, as
   *     {@code "nameServers: 'x' ('y' is not host:port; expected: host:port[,host:port...])"}
   */
  public MeshBuilder nameServers(String hostPorts) {
    this.nameServers = NameServerClientConfig.parseNameServers("nameServers", hostPorts);
    return this;
  }

  /**
   * The host the peer listener binds to, and registers unless {@link #advertisedAddress(String)}
   * says otherwise; default {@code 127.0.0.1}. The same as {@link #bindHost(String)}.
   */
  public MeshBuilder host(String host) {
    this.host = Objects.requireNonNull(host, "host");
    return this;
  }

  /**
   * The host the peer listener binds to: {@code 0.0.0.0} (or {@code ::}) for every interface, as in
   * a container, which then needs {@link #advertisedAddress(String)}.
   */
  public MeshBuilder bindHost(String host) {
    return host(host);
  }

  /**
   * The address peers are told to dial, registered with the name server and sent in {@code Hello}:
   * {@code host:port}, the port 0 for the bound one. Needed when binding a wildcard, or behind NAT
   * or a container's port mapping; default the bind host and the bound port.
   *
   * @throws IllegalArgumentException naming what is not {@code host:port}
   */
  public MeshBuilder advertisedAddress(String hostPort) {
    Objects.requireNonNull(hostPort, "advertisedAddress");
    int colon = hostPort.lastIndexOf(':');
    int parsed = -1;
    if (colon > 0 && colon < hostPort.length() - 1 && hostPort.length() - colon <= 6) {
      try {
        parsed = Integer.parseInt(hostPort.substring(colon + 1));
      } catch (NumberFormatException e) {
        parsed = -1;
      }
    }
    if (parsed < 0 || parsed > 65535) {
      throw new IllegalArgumentException(
          "advertisedAddress: \""
              + hostPort
              + "\" (expected: host:port, the port 0..65535, 0 for the bound port)");
    }
    String advertised = hostPort.substring(0, colon);
    if (advertised.startsWith("[") && advertised.endsWith("]")) {
      advertised = advertised.substring(1, advertised.length() - 1);
    }
    if (isWildcard(advertised)) {
      throw new IllegalArgumentException(
          "advertisedAddress: \"" + hostPort + "\" is a wildcard, which no peer can dial");
    }
    this.advertisedHost = advertised;
    this.advertisedPort = parsed;
    return this;
  }

  /**
   * The token the mesh opens its name-server session with, when the name server requires one (it
   * names the principal whose roles and apps the session has). Default: none.
   */
  public MeshBuilder token(String token) {
    this.token = Objects.requireNonNull(token, "token");
    return this;
  }

  /**
   * Connects to the name server with TLS, with {@code context} (from {@code
   * SslContextBuilder.forClient()}; a client certificate in it for mutual TLS). The server's
   * certificate must name the host of each name-server node as given. Default: plaintext.
   *
   * @throws IllegalArgumentException if it is a server context
   */
  public MeshBuilder nameServerTls(SslContext context) {
    Objects.requireNonNull(context, "context");
    if (context.isServer()) {
      throw new IllegalArgumentException(
          "nameServerTls: a server context (expected: one from SslContextBuilder.forClient)");
    }
    this.nameServerTls = context;
    return this;
  }

  /**
   * Speaks TLS with peers: {@code server} (from {@code SslContextBuilder.forServer}) for the
   * connections peers open to this process, which then refuses plaintext; {@code client} (from
   * {@code forClient}) for the connections it opens, checking each peer's certificate names the
   * host it dialed (the host part of the peer's registered address). Mutual TLS is the contexts'
   * choice. Every mesh of a deployment must agree. Default: plaintext.
   *
   * @throws IllegalArgumentException if the contexts are the wrong way round
   */
  public MeshBuilder peerTls(SslContext server, SslContext client) {
    Objects.requireNonNull(server, "server");
    Objects.requireNonNull(client, "client");
    if (!server.isServer() || client.isServer()) {
      throw new IllegalArgumentException(
          "peerTls: expected a server context (SslContextBuilder.forServer) and a client context"
              + " (forClient), in that order");
    }
    this.peerServerTls = server;
    this.peerClientTls = client;
    return this;
  }

  /**
   * Authenticates peers by app, without asking the name server per connection: the mesh gets a
   * short-lived ticket for its app from the name server (signed with the server's Ed25519 key, and
   * renewed after two thirds of its lifetime), shows it with a proof of possession in each {@code
   * Hello}, and requires a valid one of every peer. A peer without one is refused ({@code
   * UNAUTHENTICATED}); a {@code Data} or {@code Request} whose source is outside the app of its
   * connection's ticket is refused ({@code PERMISSION_DENIED}, reported to the sender and counted),
   * never delivered. Every mesh of a deployment must agree; pair it with {@link #peerTls} so that
   * tickets cannot be read off the wire, and with a token so that the name server only issues them
   * to the app's own principals. Default: off. See {@code docs/security.md}.
   *
   * @return this builder
   */
  public MeshBuilder requirePeerTickets() {
    this.peerTickets = true;
    return this;
  }

  private static boolean isWildcard(String host) {
    return host.equals("0.0.0.0") || host.equals("::") || host.equals("[::]") || host.isEmpty();
  }

  /** The peer listener's port; default 0, any free port. */
  public MeshBuilder port(int port) {
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port: " + port + " (expected: 0..65535)");
    }
    this.port = port;
    return this;
  }

  /** The session TTL asked of the name server; default 10 s. KeepAlives go at a third of it. */
  public MeshBuilder sessionTtl(Duration ttl) {
    this.sessionTtl = positive("sessionTtl", ttl);
    return this;
  }

  /** How long a name-server request may wait, reconnection included; default 10 s. */
  public MeshBuilder requestTimeout(Duration timeout) {
    this.requestTimeout = positive("requestTimeout", timeout);
    return this;
  }

  /** The backoff between name-server reconnection attempts; default 100 ms growing to 5 s. */
  public MeshBuilder reconnectBackoff(Duration min, Duration max) {
    positive("min", min);
    positive("max", max);
    if (max.compareTo(min) < 0) {
      throw new IllegalArgumentException("max: " + max + " (expected: >= min " + min + ")");
    }
    this.reconnectMinBackoff = min;
    this.reconnectMaxBackoff = max;
    return this;
  }

  /**
   * How long {@link #start()} keeps retrying an unreachable name server before it fails with {@code
   * PeerUnavailableException}; default 30 s.
   */
  public MeshBuilder startTimeout(Duration timeout) {
    this.startTimeout = positive("startTimeout", timeout);
    return this;
  }

  /** The largest frame body accepted or sent; default {@link Frames#DEFAULT_MAX_FRAME_LENGTH}. */
  public MeshBuilder maxFrameLength(int maxFrameLength) {
    this.maxFrameLength = Frames.checkMaxFrameLength(maxFrameLength);
    return this;
  }

  /**
   * The most messages and requests that may wait per peer connection (for the socket, or for the
   * destination to be resolved) before a further send fails at once with {@code
   * OverloadedException}; default {@value PeerTransportConfig#DEFAULT_MAX_PENDING_SENDS}. Bounds
   * memory when senders outrun a slow or stalled peer. It bounds the answers too: when twice this
   * many sends wait on a connection (replies and reports the peer has not read), the connection
   * stops reading until fewer than this many wait, so a peer that sends but does not read slows
   * down instead of filling the heap with its answers.
   */
  public MeshBuilder maxPendingSends(int maxPendingSends) {
    this.maxPendingSends = atLeast("maxPendingSends", maxPendingSends, 1);
    return this;
  }

  /**
   * How long sends may wait for a peer connection's socket with not one byte of them written before
   * the connection closes; default 30 s, {@link Duration#ZERO} for never. A peer that reads nothing
   * (its process stopped, the network between the two gone, or the peer itself waiting for this
   * side to read) would otherwise keep them until TCP gave up, which takes minutes: the close fails
   * them with {@code PeerUnavailableException}, and the next send dials afresh. A peer that reads
   * slowly is not closed: any progress restarts the wait. {@code skymesh.mesh.peer.writes.stalled}
   * counts these closes.
   */
  public MeshBuilder writeStallTimeout(Duration timeout) {
    this.writeStallTimeout = notNegative("timeout", timeout);
    return this;
  }

  /**
   * How many messages from one peer connection may wait for one service's handler while it is busy
   * (the connection reads on for the other services); default 1,024.
   */
  public MeshBuilder inboundQueuePerService(int messages) {
    this.inboundQueuePerService = atLeast("inboundQueuePerService", messages, 1);
    return this;
  }

  /**
   * How long a service whose inbound queue is full may hold its connection (slowing every sender on
   * it through TCP) before its further messages are refused with an {@code Undelivered} report
   * ({@code OverloadedException}) until its queue has drained to half; default 2 s. This bounds how
   * long one stalled handler can stop the other services sharing its connection.
   */
  public MeshBuilder inboundHold(Duration hold) {
    this.inboundHold = positive("inboundHold", hold);
    return this;
  }

  // ---------------------------------------------------------------------------------------------
  // Request / response

  /**
   * The timeout of a request whose {@code RequestOptions} set none; default 30 s. It travels on the
   * wire: the server stops the handler when it passes.
   */
  public MeshBuilder defaultRequestTimeout(Duration timeout) {
    this.defaultRequestTimeout = positive("defaultRequestTimeout", timeout);
    return this;
  }

  /**
   * How many requests this mesh's services may have in flight to one peer process (or to services
   * of this process) before further ones wait in the pending queue; default 1,024.
   */
  public MeshBuilder maxRequestsInFlightPerPeer(int max) {
    this.maxRequestsInFlightPerPeer = atLeast("maxRequestsInFlightPerPeer", max, 1);
    return this;
  }

  /**
   * How many requests to one peer process may wait for a free in-flight slot; default 1,024. A
   * request beyond it fails at once with {@code OverloadedException}. 0 fails every request over
   * the in-flight cap.
   */
  public MeshBuilder maxPendingRequestsPerPeer(int max) {
    this.maxPendingRequestsPerPeer = atLeast("maxPendingRequestsPerPeer", max, 0);
    return this;
  }

  /**
   * How many request handlers one service of this mesh runs at once; default 1,024. A request
   * beyond it is answered at once with {@code RESOURCE_EXHAUSTED} ({@code OverloadedException} for
   * the caller). Notifications count too; one over the cap is dropped and logged.
   */
  public MeshBuilder maxConcurrentHandlersPerService(int max) {
    this.maxConcurrentHandlersPerService = atLeast("maxConcurrentHandlersPerService", max, 1);
    return this;
  }

  /**
   * The flow-control window of streams and channels: the most items a receiver lets be in flight to
   * it ahead of its subscriber, granted as credit and replenished in batches of three quarters of
   * it (as {@code Flux.limitRate}); default 256. A subscriber that asks for fewer items than the
   * window still lets the producer run up to one window ahead.
   */
  public MeshBuilder streamWindow(int window) {
    this.streamWindow = atLeast("streamWindow", window, 1);
    return this;
  }

  /**
   * Whether request, reply and message payloads received from other processes may be held in pooled
   * memory instead of new arrays, as RSocket's {@code PayloadDecoder.ZERO_COPY} payloads and
   * Reactor Netty's {@code ByteBuf}s are; default {@code false}. Payloads of 256 bytes to 64 KiB
   * then allocate nothing on the heap (a {@code ByteString} that views an array the event loop
   * reuses), under a lifetime rule:
   *
   * <ul>
   *   <li>A handler's {@link io.skymesh.mesh.rpc.IncomingRequest#payload()} is valid until its
   *       reply {@code Mono} has ended and the reply has been written, or the call was cancelled.
   *       Returning it in the {@code Reply} (an echo) is fine.
   *   <li>A caller's {@link io.skymesh.mesh.rpc.Reply#payload()} is valid only while the {@code
   *       onNext} that delivers the reply runs: parse or map it there (the {@code request}
   *       overloads that take a {@code Parser} do). Copy it ({@code
   *       ByteString.copyFrom(payload.asReadOnlyByteBuffer())}) to keep it, or before anything that
   *       hands the reply to another thread or to later: {@code block()}, {@code publishOn}, a
   *       queue.
   *   <li>A {@link MessageHandler}'s {@link Message#payload()} is valid until the handler's {@code
   *       Mono} has ended (or, for a handler that returns {@code Mono.empty()} or null, until it
   *       returns). Copy it to keep it, or before handing it to work that outlives the {@code
   *       Mono}.
   * </ul>
   *
   * <p>A payload read after that sees memory reused for other payloads. Stream items and messages,
   * calls and streams within the process always carry payloads of their own.
   */
  public MeshBuilder pooledPayloads(boolean pooledPayloads) {
    this.pooledPayloads = pooledPayloads;
    return this;
  }

  /** Adds a client interceptor, around those added before (the first added is the outermost). */
  public MeshBuilder clientInterceptor(ClientInterceptor interceptor) {
    clientInterceptors.add(Objects.requireNonNull(interceptor, "interceptor"));
    return this;
  }

  /** Adds a server interceptor, around those added before (the first added is the outermost). */
  public MeshBuilder serverInterceptor(ServerInterceptor interceptor) {
    serverInterceptors.add(Objects.requireNonNull(interceptor, "interceptor"));
    return this;
  }

  /**
   * How often the round trip to each peer process in use is measured with {@code Ping} / {@code
   * Pong}, for {@code RoutingPolicy.lowestLatency()}; default 1 s, {@link Duration#ZERO} for never.
   * A ping unanswered within the interval counts as a slow round trip of the interval's length.
   */
  public MeshBuilder pingInterval(Duration interval) {
    this.pingInterval = notNegative("interval", interval);
    return this;
  }

  /**
   * Where the mesh registers its meters (names, tags and units in {@code docs/metrics.md}). Without
   * one, the default, the mesh creates no meters and counts only what its API reports.
   */
  public MeshBuilder meterRegistry(MeterRegistry registry) {
    this.meterRegistry = Objects.requireNonNull(registry, "registry");
    return this;
  }

  /**
   * What observes the mesh's calls ({@code request}, {@code notify}, {@code sendTo}) and its
   * handlers, carrying trace context across hops in the frames' headers; default {@link
   * ObservationRegistry#NOOP}, which observes nothing.
   */
  public MeshBuilder observationRegistry(ObservationRegistry registry) {
    this.observationRegistry = Objects.requireNonNull(registry, "registry");
    return this;
  }

  /**
   * The event loops of this mesh's peer connections, those peers open and those it dials, as
   * Reactor Netty's {@code TcpServer.runOn} and {@code TcpClient.runOn} take them; by default the
   * shared {@code TcpResources} of the process, which every Reactor Netty client and server without
   * loops of their own also uses. Give a mesh loops of its own to keep its I/O off other work's
   * threads, or two meshes in one process (a benchmark's caller and handler) apart. The mesh does
   * not dispose them: whoever created them disposes them after the mesh is closed. The name-server
   * connection keeps its own single loop.
   */
  public MeshBuilder runOn(LoopResources loops) {
    this.peerLoops = Objects.requireNonNull(loops, "loops");
    return this;
  }

  /**
   * Starts the mesh: binds the peer listener and opens the session with the name server, retrying
   * with backoff while it is unreachable. Lazy: each subscription starts a new mesh.
   *
   * @return the started mesh
   * @throws IllegalArgumentException when binding a wildcard host without an advertised address
   */
  public Mono<Mesh> start() {
    if (advertisedHost == null && isWildcard(host)) {
      throw new IllegalArgumentException(
          "bindHost "
              + host
              + " listens on every interface but would register an address no peer can dial"
              + " (expected: advertisedAddress(\"host:port\") too, where peers reach this"
              + " process)");
    }
    MeshConfig config =
        new MeshConfig(
            appId,
            host,
            port,
            advertisedHost,
            advertisedPort,
            peerServerTls,
            peerClientTls,
            peerTickets,
            maxFrameLength,
            pingInterval,
            maxPendingSends,
            writeStallTimeout,
            inboundQueuePerService,
            inboundHold,
            new RpcConfig(
                defaultRequestTimeout,
                maxRequestsInFlightPerPeer,
                maxPendingRequestsPerPeer,
                maxConcurrentHandlersPerService,
                streamWindow,
                clientInterceptors,
                serverInterceptors,
                pooledPayloads),
            new NameServerClientConfig(
                appId,
                nameServers,
                sessionTtl,
                requestTimeout,
                reconnectMinBackoff,
                reconnectMaxBackoff,
                startTimeout,
                maxFrameLength,
                NameServerClientConfig.DEFAULT_WATCH_BUFFER_SIZE,
                Schedulers.parallel(),
                token,
                nameServerTls),
            meterRegistry,
            observationRegistry,
            peerLoops);
    return Mono.defer(() -> DefaultMesh.start(config));
  }

  private static int atLeast(String name, int value, int min) {
    if (value < min) {
      throw new IllegalArgumentException(name + ": " + value + " (expected: >= " + min + ")");
    }
    return value;
  }

  private static Duration notNegative(String name, Duration value) {
    Objects.requireNonNull(value, name);
    if (value.isNegative()) {
      throw new IllegalArgumentException(name + ": " + value + " (expected: >= 0)");
    }
    return value;
  }

  private static Duration positive(String name, Duration value) {
    Objects.requireNonNull(value, name);
    if (value.isNegative() || value.isZero()) {
      throw new IllegalArgumentException(name + ": " + value + " (expected: > 0)");
    }
    return value;
  }
}

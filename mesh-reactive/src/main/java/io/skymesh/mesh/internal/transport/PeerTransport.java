package io.skymesh.mesh.internal.transport;

import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.handler.ssl.SslContext;
import io.skymesh.codec.FrameDecoder;
import io.skymesh.codec.Tls;
import io.skymesh.core.exceptions.MeshClosedException;
import io.skymesh.core.exceptions.PeerUnavailableException;
import io.skymesh.core.exceptions.SkymeshException;
import io.skymesh.proto.PeerFrame;
import io.skymesh.proto.PeerTicket;
import io.skymesh.proto.StatusCode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.netty.DisposableServer;
import reactor.netty.NettyPipeline;
import reactor.netty.channel.ChannelMetricsRecorder;
import reactor.netty.resources.LoopResources;
import reactor.netty.tcp.TcpClient;
import reactor.netty.tcp.TcpServer;
import reactor.util.Logger;
import reactor.util.Loggers;

/**
 * The peer transport of one mesh process: a TCP listener for the connections peers open, and a pool
 * of connections this process opens, at most one per remote listen address, opened on first use.
 *
 * <pre>{@code
 * PeerTransport transport =
 *     PeerTransport.create(PeerTransportConfig.builder().appId("game").build(), dispatcher);
 * transport.bind().block(Duration.ofSeconds(5));
 * transport.connection("10.0.0.7:41234").flatMap(c -> c.send(frame)).subscribe();
 * }</pre>
 *
 * <p>Thread-safe; nothing blocks. Errors arrive as {@code onError}: {@link
 * PeerUnavailableException} when a peer cannot be reached or goes away, {@link MeshClosedException}
 * once this transport is closing.
 */
public final class PeerTransport {

  private static final Logger log = Loggers.getLogger(PeerTransport.class);

  static final String DECODER_NAME = "skymesh.frameDecoder";

  private final PeerTransportConfig config;
  private final InboundDispatcher dispatcher;
  private final ConcurrentHashMap<String, Dial> dials = new ConcurrentHashMap<>();
  private final Set<PeerChannel> channels = ConcurrentHashMap.newKeySet();
  private final AtomicLong acceptedConnections = new AtomicLong();
  private final AtomicLong ticketsRefused = new AtomicLong();
  private final AtomicBoolean bound = new AtomicBoolean();
  private final AtomicBoolean closing = new AtomicBoolean();
  private volatile boolean goingAway;
  private final Sinks.Empty<Void> terminated = Sinks.empty();
  private final MeshClosedException closedError;
  private volatile PeerFrame hello;
  private volatile String listenAddress = "";
  private volatile DisposableServer server;
  private volatile Consumer<PeerConnection> onInstalled = connection -> {};

  private PeerTransport(PeerTransportConfig config, InboundDispatcher dispatcher) {
    this.config = config;
    this.dispatcher = dispatcher;
    this.closedError = new MeshClosedException("peer transport " + config.processId() + " closed");
    this.hello = PeerFrames.hello(config.processId(), "", config.appId());
    PeerTickets tickets = config.tickets();
    if (tickets != null) {
      tickets.onRenewed(this::ticketRenewed);
    }
  }

  /**
   * Creates a transport; nothing is bound or opened until {@link #bind()} or {@link #connection}.
   *
   * @param config the configuration
   * @param dispatcher receives every frame peers send; see its threading contract
   * @return the transport
   */
  public static PeerTransport create(PeerTransportConfig config, InboundDispatcher dispatcher) {
    return new PeerTransport(
        Objects.requireNonNull(config, "config"), Objects.requireNonNull(dispatcher, "dispatcher"));
  }

  /**
   * Starts the listener. Lazy; completes with this transport once {@link #listenAddress()} is the
   * really bound address. A transport binds at most once: a second bind fails with {@code
   * IllegalStateException}, a bind after close with {@link MeshClosedException}; a bind failure
   * (address in use) arrives as Reactor Netty reports it.
   *
   * @return this transport, bound
   */
  public Mono<PeerTransport> bind() {
    return Mono.defer(
        () -> {
          if (isClosing()) {
            return Mono.error(closedError);
          }
          if (!bound.compareAndSet(false, true)) {
            return Mono.error(new IllegalStateException("bind: the transport is already bound"));
          }
          TcpServer listener = TcpServer.create();
          LoopResources loops = config.loops();
          if (loops != null) {
            listener = listener.runOn(loops);
          }
          ChannelMetricsRecorder recorder = config.acceptedMetrics();
          if (recorder != null) {
            listener = listener.metrics(true, () -> recorder);
          }
          SslContext serverTls = config.serverTls();
          if (serverTls != null) {
            listener = listener.secure(spec -> spec.sslContext(serverTls));
          }
          return listener
              .host(config.host())
              .port(config.port())
              .childOption(ChannelOption.TCP_NODELAY, true)
              .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, waterMark())
              .childOption(ChannelOption.ALLOCATOR, config.allocator())
              .doOnChannelInit((observer, channel, address) -> install(channel, true, null, ""))
              .handle(
                  (in, out) -> {
                    in.withConnection(connection -> PeerChannel.of(connection).start(connection));
                    return out.neverComplete();
                  })
              .bind()
              .map(
                  disposable -> {
                    server = disposable;
                    listenAddress =
                        PeerAddress.format(
                            config.advertisedHost(),
                            config.advertisedPort() > 0
                                ? config.advertisedPort()
                                : disposable.port());
                    hello = PeerFrames.hello(config.processId(), listenAddress, config.appId());
                    if (isClosing()) {
                      disposable.dispose();
                    }
                    log.debug(
                        "Peer transport {} listening on {}", config.processId(), listenAddress);
                    return this;
                  });
        });
  }

  /** The address peers dial, {@code host:port}; empty until {@link #bind()} has completed. */
  public String listenAddress() {
    return listenAddress;
  }

  /** This process's id, as sent in {@code Hello}. */
  public String processId() {
    return config.processId();
  }

  /** The configuration. */
  public PeerTransportConfig config() {
    return config;
  }

  /**
   * The connection to the process listening on {@code address}: the open one, or one opened now.
   * Concurrent callers share one pending connect: there is at most one connection per address in
   * the pool, and no lock is held while connecting. Completes after the {@code Hello} exchange.
   * After the connection closes, or after the peer sent {@code GoAway}, the next call opens a new
   * one.
   *
   * <p>Errors: {@link PeerUnavailableException} naming the address if the connect or the handshake
   * fails; {@link MeshClosedException} once this transport is closing. Cancelling does not stop a
   * connect other callers may share: the connection is kept for the next use.
   *
   * @param address the peer's listen address, {@code host:port}
   * @return the connection
   * @throws IllegalArgumentException if {@code address} is not {@code host:port}
   */
  public Mono<PeerConnection> connection(String address) {
    // An address with a dial in the pool was parsed when it was dialed: only a new one is parsed
    // (this is on every send's and request's path).
    PeerAddress target = dials.containsKey(address) ? null : PeerAddress.parse(address);
    return Mono.defer(
        () -> {
          for (; ; ) {
            if (isClosing()) {
              return Mono.error(closedError);
            }
            Dial dial = dials.get(address);
            if (dial == null) {
              Dial fresh = new Dial(address, target != null ? target : PeerAddress.parse(address));
              dial = dials.putIfAbsent(address, fresh);
              if (dial == null) {
                fresh.start();
                return fresh.result();
              }
            }
            PeerChannel open = dial.channel;
            if (open != null && !open.isOpen()) {
              // Closing or going away, and not yet forgotten: forget it here and dial again.
              dials.remove(address, dial);
              continue;
            }
            return dial.result();
          }
        });
  }

  /** How long {@link #release(String)} lets a connection drain before closing it anyway. */
  public static final Duration DEFAULT_RELEASE_DRAIN_TIMEOUT = Duration.ofSeconds(5);

  /**
   * Closes the pooled connection to {@code address}, if any, as {@link #release(String, Duration)}
   * does with {@link #DEFAULT_RELEASE_DRAIN_TIMEOUT}.
   *
   * @param address the peer's listen address, as given to {@link #connection}
   * @return completes when the connection is closed
   */
  public Mono<Void> release(String address) {
    return release(address, DEFAULT_RELEASE_DRAIN_TIMEOUT);
  }

  /**
   * Closes the pooled connection to {@code address}, if any; the next {@link #connection} to it
   * opens a new one. The connection closes gracefully: new {@code Data} and {@code Request} sends
   * on it fail with {@link PeerUnavailableException}, what is queued is written, the peer gets
   * {@code GoAway(OK)}, and the close is forced after {@code drainTimeout}. Connections the peer
   * opened to this process are not affected.
   *
   * @param address the peer's listen address, as given to {@link #connection}
   * @param drainTimeout how long the connection may take to drain
   * @return completes when the connection is closed
   */
  public Mono<Void> release(String address, Duration drainTimeout) {
    Objects.requireNonNull(address, "address");
    checkTimeout(drainTimeout, "drainTimeout");
    return Mono.defer(
        () -> {
          Dial dial = dials.remove(address);
          if (dial == null) {
            return Mono.empty();
          }
          SkymeshException reason =
              new PeerUnavailableException("the connection to " + address + " was released");
          return dial.result()
              .onErrorResume(e -> Mono.empty())
              .flatMap(c -> ((PeerChannel) c).closeGracefully(drainTimeout, reason));
        });
  }

  /**
   * Starts a graceful shutdown without closing anything: stops accepting connections, refuses new
   * connects with {@link MeshClosedException}, and on every connection sends {@code GoAway(OK)}
   * (its {@code last_stream_id} the highest request id received there) and refuses new {@code Data}
   * and {@code Request} sends with {@link MeshClosedException}. Responses, cancels and pings still
   * go, so the layer above can finish the requests in flight, then call {@link #closeGracefully}.
   * Idempotent.
   *
   * @return completes when every connection has its GoAway queued and the listener is closed
   */
  public Mono<Void> goAway() {
    return Mono.defer(
        () -> {
          goingAway = true;
          List<Mono<Void>> steps = stopListeningAndDialing();
          for (PeerChannel channel : List.copyOf(channels)) {
            if (channel.isRegistered()) {
              steps.add(channel.goAway(closedError));
            }
          }
          return Mono.when(steps);
        });
  }

  /**
   * Closes at once: stops accepting, fails every queued send and pending connect with {@link
   * MeshClosedException}, sends {@code GoAway(OK)} on each connection (best effort) and closes
   * them. Idempotent; the close goes on if the returned {@code Mono} is cancelled.
   *
   * @return completes when the listener and every connection are closed
   */
  public Mono<Void> close() {
    return shutdown(null);
  }

  /**
   * Closes gracefully: stops accepting and refuses new connects; on each connection refuses new
   * {@code Data} and {@code Request} sends, sends {@code GoAway(OK)} after what is queued, waits
   * for the peer to confirm it has processed it all and for the queue to be written, then closes.
   * Any connection still open at {@code timeout} is closed anyway, failing its remaining sends with
   * {@link MeshClosedException}. Idempotent; the close goes on if the returned {@code Mono} is
   * cancelled.
   *
   * @param timeout the longest the whole close may take
   * @return completes when the listener and every connection are closed
   */
  public Mono<Void> closeGracefully(Duration timeout) {
    checkTimeout(timeout, "timeout");
    return shutdown(timeout);
  }

  /** Stops the listener and cancels pending dials; returns the steps to wait for, to add to. */
  private List<Mono<Void>> stopListeningAndDialing() {
    List<Mono<Void>> steps = new ArrayList<>();
    DisposableServer listener = server;
    if (listener != null) {
      listener.dispose();
      steps.add(listener.onDispose());
    }
    for (Dial dial : dials.values()) {
      dial.cancel();
    }
    dials.clear();
    return steps;
  }

  /** Completes when the transport has closed. */
  public Mono<Void> onClose() {
    return terminated.asMono();
  }

  /** Open connections, in both directions, including ones still in their handshake. */
  public int openConnections() {
    return channels.size();
  }

  /** A snapshot of the open connections, in both directions, for metrics and tests. */
  public java.util.List<PeerConnection> connections() {
    return java.util.List.copyOf(channels);
  }

  /** Connections accepted by the listener since it was bound (a counter that only grows). */
  public long acceptedConnections() {
    return acceptedConnections.get();
  }

  @Override
  public String toString() {
    return "PeerTransport{processId=" + config.processId() + ", listen=" + listenAddress + '}';
  }

  // ---------------------------------------------------------------------------------------------

  private Mono<Void> shutdown(Duration timeout) {
    return Mono.defer(
        () -> {
          if (closing.compareAndSet(false, true)) {
            log.debug("Closing peer transport {}", config.processId());
            List<Mono<Void>> steps = stopListeningAndDialing();
            // A channel without an event loop yet belongs to a dial, which cancel() has handled.
            steps.add(
                Flux.fromIterable(List.copyOf(channels))
                    .filter(PeerChannel::isRegistered)
                    .flatMap(
                        channel -> {
                          if (timeout == null) {
                            channel.closeNow(
                                closedError, PeerFrames.goAway(StatusCode.OK, "closing"));
                            return channel.onClose();
                          }
                          return channel.closeGracefully(timeout, closedError);
                        })
                    .then());
            Mono.when(steps)
                .subscribe(
                    null,
                    error -> {
                      log.warn("Error while closing peer transport " + config.processId(), error);
                      terminated.tryEmitEmpty();
                    },
                    terminated::tryEmitEmpty);
          }
          return terminated.asMono();
        });
  }

  private void install(Channel channel, boolean inbound, Dial dial, String address) {
    PeerChannel peer = new PeerChannel(this, channel, inbound, dial, address);
    if (dial != null) {
      dial.peer = peer;
    }
    channel
        .pipeline()
        .addBefore(
            NettyPipeline.ReactiveBridge,
            DECODER_NAME,
            new FrameDecoder<>(
                new PeerFrameDecoder(config.pooledPayloads()),
                config.maxFrameLength(),
                PeerFrames::lastWords))
        .addBefore(NettyPipeline.ReactiveBridge, PeerChannel.NAME, peer);
    channels.add(peer);
    if (inbound) {
      acceptedConnections.incrementAndGet();
    }
    onInstalled.accept(peer);
  }

  /** Tests only: called with every connection as soon as it exists, before its handshake. */
  void onInstalled(Consumer<PeerConnection> hook) {
    onInstalled = Objects.requireNonNull(hook, "hook");
  }

  private WriteBufferWaterMark waterMark() {
    return new WriteBufferWaterMark(
        config.writeBufferLowWaterMark(), config.writeBufferHighWaterMark());
  }

  private static void checkTimeout(Duration timeout, String name) {
    Objects.requireNonNull(timeout, name);
    if (timeout.isNegative()) {
      throw new IllegalArgumentException(name + ": " + timeout + " (expected: >= 0)");
    }
  }

  // Called by PeerChannel.

  InboundDispatcher dispatcher() {
    return dispatcher;
  }

  /**
   * The {@code Hello} for a connection: with this mesh's ticket and its proof for {@code audience}
   * when the mesh uses tickets.
   *
   * @param audience the address dialed, or, answering a peer's {@code Hello}, the peer's process id
   */
  PeerFrame hello(String audience) {
    PeerTickets tickets = config.tickets();
    if (tickets == null) {
      return hello;
    }
    return PeerFrame.newBuilder()
        .setHello(tickets.present(hello.getHello().toBuilder(), audience))
        .build();
  }

  /** Counts a peer whose ticket did not hold. */
  void ticketRefused() {
    ticketsRefused.incrementAndGet();
  }

  /** How many peers' {@code Hello}s or renewals were refused because their ticket did not hold. */
  public long ticketsRefused() {
    return ticketsRefused.get();
  }

  /** Passes a renewed ticket on to every connection. */
  private void ticketRenewed(PeerTicket ticket) {
    for (PeerChannel channel : channels) {
      channel.ticketRenewed(ticket);
    }
  }

  boolean isClosing() {
    return goingAway || closing.get();
  }

  void onRemoteGoAway(PeerChannel channel) {
    forget(channel);
  }

  void onChannelClosed(PeerChannel channel) {
    channels.remove(channel);
    forget(channel);
  }

  private void forget(PeerChannel channel) {
    Dial dial = channel.dial;
    if (dial != null) {
      dials.remove(dial.address, dial);
    }
  }

  /** One connect to one address, shared by every caller that asked for it meanwhile. */
  final class Dial {

    final String address;
    private final PeerAddress target;
    private final Sinks.One<PeerConnection> result = Sinks.one();

    /** The connection once its handshake is done. */
    volatile PeerChannel channel;

    /** The connection from the moment its channel exists, for cancel() to close. */
    volatile PeerChannel peer;

    private volatile Disposable connecting;

    Dial(String address, PeerAddress target) {
      this.address = address;
      this.target = target;
    }

    Mono<PeerConnection> result() {
      PeerChannel open = channel;
      return open != null ? Mono.just(open) : result.asMono();
    }

    void start() {
      TcpClient client = TcpClient.newConnection();
      LoopResources loops = config.loops();
      if (loops != null) {
        client = client.runOn(loops);
      }
      ChannelMetricsRecorder recorder = config.dialedMetrics();
      if (recorder != null) {
        client = client.metrics(true, () -> recorder);
      }
      SslContext clientTls = config.clientTls();
      if (clientTls != null) {
        client =
            client.secure(
                spec -> spec.sslContext(clientTls).handlerConfigurator(Tls::verifyHostname));
      }
      connecting =
          client
              .host(target.host())
              .port(target.port())
              .option(ChannelOption.TCP_NODELAY, true)
              .option(
                  ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) config.connectTimeout().toMillis())
              .option(ChannelOption.WRITE_BUFFER_WATER_MARK, waterMark())
              .option(ChannelOption.ALLOCATOR, config.allocator())
              .doOnChannelInit((observer, ch, remote) -> install(ch, false, this, address))
              .connect()
              .flatMap(
                  connection -> {
                    PeerChannel peer = PeerChannel.of(connection);
                    peer.start(connection);
                    return peer.handshake();
                  })
              .subscribe(this::connected, this::failed);
    }

    private void connected(PeerChannel peer) {
      if (isClosing()) {
        peer.closeNow(closedError, null);
        result.tryEmitError(closedError);
        return;
      }
      channel = peer;
      result.tryEmitValue(peer);
      log.debug("Connected to {}", peer);
    }

    private void failed(Throwable error) {
      dials.remove(address, this);
      SkymeshException typed =
          isClosing()
              ? closedError
              : error instanceof SkymeshException skymesh
                  ? skymesh
                  : new PeerUnavailableException(
                      "cannot connect to peer " + address + ": " + error.getMessage(), error);
      result.tryEmitError(typed);
    }

    /** Abandons a connect still in progress: the transport is closing. */
    void cancel() {
      if (channel != null) {
        return;
      }
      Disposable pending = connecting;
      if (pending != null) {
        pending.dispose();
      }
      // Once Reactor Netty has handed the connection over, disposing does not close it.
      PeerChannel connected = peer;
      if (connected != null && connected.isRegistered()) {
        connected.closeNow(closedError, null);
      }
      result.tryEmitError(closedError);
    }
  }
}

package io.skymesh.nameserver.internal;

import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.skymesh.codec.FrameDecoder;
import io.skymesh.codec.FrameEncoder;
import io.skymesh.codec.Tickets;
import io.skymesh.core.exceptions.Statuses;
import io.skymesh.nameserver.NameServer;
import io.skymesh.nameserver.NameServerCounters;
import io.skymesh.nameserver.NameServerMetrics;
import io.skymesh.nameserver.spi.NameStore;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.StatusCode;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;
import reactor.netty.Connection;
import reactor.netty.DisposableServer;
import reactor.netty.NettyPipeline;
import reactor.netty.resources.LoopResources;
import reactor.netty.tcp.TcpServer;

/**
 * The name server over Reactor Netty's {@link TcpServer}, with a {@link ProtocolDispatch} driving
 * its state.
 */
public final class DefaultNameServer extends NameServer {

  private static final Logger log = LoggerFactory.getLogger(DefaultNameServer.class);

  /** The handler names in each connection's pipeline. */
  static final String DECODER = "skymesh.frameDecoder";

  static final String ENCODER = "skymesh.frameEncoder";
  static final String EVENT_ENCODER = "skymesh.watchFrameEncoder";

  /** A safety net over the per-connection grace, should a connection never report its close. */
  private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(5);

  private final DisposableServer server;
  private final ProtocolDispatch registry;
  private final Scheduler writer;
  private final InetSocketAddress address;
  private final AtomicBoolean closing = new AtomicBoolean();
  private final Sinks.Empty<Void> closed = Sinks.empty();

  private DefaultNameServer(DisposableServer server, ProtocolDispatch registry, Scheduler writer) {
    this.server = server;
    this.registry = registry;
    this.writer = writer;
    this.address = (InetSocketAddress) server.address();
  }

  /**
   * The name server's connections run on event loops of their own: embedded in a process whose mesh
   * traffic keeps the default loops busy, sessions must still be read in time to keep their TTL.
   * Shared by every name server in the process; daemon threads.
   */
  private static final LoopResources LOOPS = LoopResources.create("skymesh-nameserver", 1, 2, true);

  /**
   * Starts a name server when subscribed. With a data directory, the directory is read first, on
   * {@link Schedulers#boundedElastic()}.
   *
   * @param config the checked configuration
   * @return the started server
   */
  public static Mono<NameServer> start(NameServerConfig config) {
    return ticketKey(config).flatMap(key -> start(config, key));
  }

  /**
   * The key peer tickets are signed with: the configured one, else the data directory's, else a new
   * one. Making a key reads the random source and keeping one reads and writes a file: on {@link
   * Schedulers#boundedElastic()}, not on the caller's thread, which may not block.
   */
  private static Mono<KeyPair> ticketKey(NameServerConfig config) {
    if (config.ticketKey() != null) {
      return Mono.just(config.ticketKey());
    }
    Path directory = config.dataDirectory();
    return Mono.fromCallable(
            () ->
                directory == null ? Tickets.newKeyPair() : TicketKeyFile.inDataDirectory(directory))
        .subscribeOn(Schedulers.boundedElastic());
  }

  private static Mono<NameServer> start(NameServerConfig config, KeyPair ticketKey) {
    if (config.store() != null) {
      NameStore store = config.store();
      return bind(config, ticketKey, null)
          .doOnError(error -> store.close().subscribe(null, e -> {}))
          .doOnCancel(() -> store.close().subscribe(null, e -> {}));
    }
    if (config.dataDirectory() == null) {
      return bind(config, ticketKey, null);
    }
    return Mono.fromCallable(
            () ->
                DataLog.open(
                    config.dataDirectory(),
                    config.fsync(),
                    config.fsyncInterval().toNanos(),
                    Math.max(0, config.initialRevision()),
                    Revisions.BLOCK,
                    Elections.TERM_BLOCK))
        .subscribeOn(Schedulers.boundedElastic())
        .flatMap(
            opened -> {
              log.info(
                  "Data directory {}: revision {}, {} KV entries, terms above {}, fsync {}{}",
                  config.dataDirectory(),
                  opened.recovered().revision(),
                  opened.recovered().kv().size(),
                  opened.recovered().termFloor(),
                  config.fsync(),
                  opened.recovered().cutBytes() > 0
                      ? " (cut a torn tail of " + opened.recovered().cutBytes() + " bytes)"
                      : "");
              return bind(config, ticketKey, opened)
                  .doOnError(error -> closeLater(opened.log()))
                  .doOnCancel(() -> closeLater(opened.log()));
            });
  }

  private static void closeLater(DataLog dataLog) {
    Schedulers.boundedElastic().schedule(dataLog::close);
  }

  private static Mono<NameServer> bind(
      NameServerConfig config, KeyPair ticketKey, DataLog.Opened opened) {
    return Mono.defer(
        () -> {
          Scheduler writer = Schedulers.newSingle("skymesh-nameserver-writer", true);
          ProtocolDispatch registry = new ProtocolDispatch(config, ticketKey, writer, opened);
          FrameEncoder encoder = new FrameEncoder(config.maxFrameLength());
          WatchFrame.Encoder eventEncoder = new WatchFrame.Encoder(config.maxFrameLength());
          TcpServer tcp = TcpServer.create();
          if (config.tls() != null) {
            tcp = tcp.secure(spec -> spec.sslContext(config.tls()));
          }
          return tcp.runOn(LOOPS)
              .host(config.host())
              .port(config.port())
              .option(ChannelOption.SO_REUSEADDR, true)
              .childOption(ChannelOption.TCP_NODELAY, true)
              // Netty 4.2's default adaptive allocator takes a lock on the event loop and has had
              // corruption bugs; the classic pooled allocator has neither (docs/decisions.md).
              .childOption(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT)
              .doOnChannelInit(
                  (observer, channel, remote) -> {
                    // Installed for the channel's whole life, before the reactive bridge, so the
                    // decoder still sees the close (see codec/README.md).
                    ChannelPipeline pipeline = channel.pipeline();
                    pipeline.addBefore(
                        NettyPipeline.ReactiveBridge,
                        DECODER,
                        new FrameDecoder<>(
                            NameClientFrame.parser(), config.maxFrameLength(), Replies::lastWords));
                    pipeline.addBefore(NettyPipeline.ReactiveBridge, ENCODER, encoder);
                    pipeline.addBefore(NettyPipeline.ReactiveBridge, EVENT_ENCODER, eventEncoder);
                  })
              .handle(registry::handle)
              .bind()
              .<NameServer>map(
                  bound -> {
                    DefaultNameServer started = new DefaultNameServer(bound, registry, writer);
                    if (config.store() != null) {
                      log.info(
                          "Name server listening on {} (session TTL {} ms, {} frames queued per"
                              + " session at most, state in {})",
                          started.address,
                          config.sessionTtl().toMillis(),
                          config.watcherQueueLimit(),
                          config.store());
                    } else {
                      log.info(
                          "Name server listening on {} (session TTL {} ms, {} frames queued per"
                              + " session at most, history of {} changes and {} bytes at most)",
                          started.address,
                          config.sessionTtl().toMillis(),
                          config.watcherQueueLimit(),
                          config.historyLimit(),
                          config.historyBytesLimit());
                    }
                    if (config.principals().isEmpty()) {
                      log.warn(
                          "Name server on {} runs in open mode: no principals are configured, so"
                              + " any client that reaches it may register, watch, write KV and"
                              + " clear services in any app",
                          started.address);
                    } else {
                      log.info(
                          "Name server on {} requires a token: {} principals",
                          started.address,
                          config.principals().size());
                    }
                    return started;
                  })
              .doOnError(error -> writer.dispose())
              .doOnCancel(writer::dispose);
        });
  }

  @Override
  public InetSocketAddress address() {
    return address;
  }

  @Override
  public long revision() {
    return registry.revision();
  }

  @Override
  public NameServerMetrics metrics() {
    return registry.metrics();
  }

  @Override
  public NameServerCounters counters() {
    return registry.counters();
  }

  @Override
  public Mono<Void> checkHealth() {
    return Mono.defer(
        () ->
            closing.get()
                ? Mono.error(
                    Statuses.toException(
                        StatusCode.UNAVAILABLE, "the name server on " + address + " is closing"))
                : registry.checkHealth());
  }

  @Override
  public Mono<Void> close() {
    return Mono.defer(
        () -> {
          if (closing.compareAndSet(false, true)) {
            doClose()
                .subscribe(
                    null,
                    error -> {
                      log.warn("Name server on {} closed with an error", address, error);
                      closed.tryEmitEmpty();
                    },
                    () -> {
                      log.info("Name server on {} closed", address);
                      closed.tryEmitEmpty();
                    });
          }
          return closed.asMono();
        });
  }

  @Override
  public Mono<Void> onClose() {
    return closed.asMono();
  }

  private Mono<Void> doClose() {
    return Mono.fromRunnable(server::dispose)
        .then(server.onDispose())
        .then(registry.closeAll())
        .flatMap(this::awaitClosed)
        .then(
            registry
                .closeStore()
                .onErrorResume(
                    error -> {
                      log.warn("Name server on {}: its store closed with an error", address, error);
                      return Mono.empty();
                    }))
        // Blocking file I/O (the log's last writes and fsync): on a thread that may block.
        .then(Mono.<Void>fromRunnable(registry::closeLog).subscribeOn(Schedulers.boundedElastic()))
        .doFinally(signal -> writer.dispose());
  }

  private Mono<Void> awaitClosed(List<Connection> connections) {
    return Flux.fromIterable(connections)
        .flatMap(Connection::onDispose)
        .then()
        .timeout(CLOSE_TIMEOUT, Mono.fromRunnable(() -> connections.forEach(Connection::dispose)))
        .onErrorResume(error -> Mono.empty());
  }

  @Override
  public String toString() {
    return "NameServer[" + address + "]";
  }
}

package io.skymesh.mesh.internal.naming;

import com.google.protobuf.ByteString;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.skymesh.codec.FrameDecoder;
import io.skymesh.codec.FrameEncoder;
import io.skymesh.core.exceptions.MeshClosedException;
import io.skymesh.core.exceptions.MeshTimeoutException;
import io.skymesh.core.exceptions.PeerUnavailableException;
import io.skymesh.core.exceptions.ServiceNotFoundException;
import io.skymesh.core.exceptions.Statuses;
import io.skymesh.mesh.internal.MeshConfig;
import io.skymesh.proto.Ack;
import io.skymesh.proto.Campaign;
import io.skymesh.proto.Deregister;
import io.skymesh.proto.Instance;
import io.skymesh.proto.KeepAlive;
import io.skymesh.proto.KvDelete;
import io.skymesh.proto.KvEntry;
import io.skymesh.proto.KvGet;
import io.skymesh.proto.KvGetResult;
import io.skymesh.proto.KvList;
import io.skymesh.proto.KvPut;
import io.skymesh.proto.KvWatch;
import io.skymesh.proto.KvWatchEvent;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.OpenSession;
import io.skymesh.proto.Register;
import io.skymesh.proto.Resign;
import io.skymesh.proto.SetAttributes;
import io.skymesh.proto.Unwatch;
import io.skymesh.proto.Watch;
import io.skymesh.proto.WatchEvent;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;
import reactor.core.Disposables;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.netty.Connection;
import reactor.netty.NettyPipeline;
import reactor.netty.resources.LoopResources;
import reactor.netty.tcp.TcpClient;
import reactor.util.retry.Retry;

/**
 * The mesh's session with the name server.
 *
 * <p>It remembers what it registered and watched, so that after the connection is lost it
 * reconnects with backoff, opens a new session, registers the same instances again and resumes
 * every watch from the last revision it delivered. Requests made while disconnected wait for the
 * next session, up to the request timeout.
 *
 * <p>Threading: frames are handled on the connection's event loop; nothing blocks; the maps are
 * concurrent because requests come from any thread.
 */
public final class NameServerClient {

  private static final Logger log = LoggerFactory.getLogger(NameServerClient.class);
  private static final int PROTOCOL_VERSION = 1;

  /**
   * The name-server connections of every mesh in the process share one event loop of their own, so
   * that a flood of peer traffic on the default loops cannot delay keepalives past the TTL.
   */
  private static final LoopResources CONTROL_LOOP =
      LoopResources.create("skymesh-control", 1, true);

  private final MeshConfig config;
  private final AtomicLong requestIds = new AtomicLong();
  private final AtomicLong watchIds = new AtomicLong();
  private final Map<Long, Pending> pending = new ConcurrentHashMap<>();
  private final Map<String, Instance> registrations = new ConcurrentHashMap<>();
  private final Map<Long, WatchState> watches = new ConcurrentHashMap<>();
  private final Set<String> campaigns = ConcurrentHashMap.newKeySet();
  private final Map<Long, KvWatchState> kvWatches = new ConcurrentHashMap<>();
  private final Sinks.Many<Session> sessions = Sinks.many().replay().latest();
  private final Disposable.Swap reconnecting = Disposables.swap();
  private volatile boolean closed;
  private volatile Session current;

  /**
   * Creates a client; {@link #start()} connects it.
   *
   * @param config the mesh's configuration
   */
  public NameServerClient(MeshConfig config) {
    this.config = config;
  }

  /**
   * Connects and opens a session, retrying with backoff while the name server is unreachable, up to
   * the start timeout.
   *
   * @return completes when the first session is open
   */
  public Mono<Void> start() {
    return openSession()
        .retryWhen(
            Retry.backoff(Long.MAX_VALUE, config.reconnectMinBackoff())
                .maxBackoff(config.reconnectMaxBackoff())
                .filter(e -> e instanceof PeerUnavailableException && !closed)
                .doBeforeRetry(
                    signal ->
                        log.info(
                            "Name server {} not reachable yet ({}), retrying",
                            config.nameServer(),
                            signal.failure().getMessage())))
        .timeout(
            config.startTimeout(),
            Mono.error(
                () ->
                    new PeerUnavailableException(
                        "name server "
                            + config.nameServer()
                            + " unreachable for "
                            + config.startTimeout())))
        .doOnNext(this::ready)
        .then();
  }

  /**
   * Registers an instance, and keeps it registered across reconnections until {@link #deregister}.
   *
   * @param instance the instance, with url, address, weight, attributes and process id
   * @return the revision of the registration
   */
  public Mono<Long> register(Instance instance) {
    return Mono.defer(
        () -> {
          registrations.put(instance.getUrl(), instance);
          return request(
                  NameClientFrame.newBuilder()
                      .setRegister(Register.newBuilder().setInstance(instance)),
                  instance.getUrl())
              .map(Ack::getRevision)
              .doOnError(e -> registrations.remove(instance.getUrl(), instance));
        });
  }

  /**
   * Deregisters an instance; completes once the name server has acknowledged it (or did not know
   * it).
   *
   * @param url the canonical ServiceUrl
   * @return completes when deregistered
   */
  public Mono<Void> deregister(String url) {
    return Mono.defer(
        () -> {
          registrations.remove(url);
          campaigns.remove(url);
          return request(
                  NameClientFrame.newBuilder().setDeregister(Deregister.newBuilder().setUrl(url)),
                  url)
              .onErrorResume(ServiceNotFoundException.class, e -> Mono.empty())
              .then();
        });
  }

  /**
   * Replaces or merges an instance's attributes. The registration kept for reconnections is updated
   * first, so an instance registered again after a reconnection carries the new attributes even if
   * this request was lost with the old session.
   *
   * @param url the canonical ServiceUrl of an instance this client registered
   * @param attributes the attributes
   * @param merge whether to merge into the current attributes instead of replacing them
   * @return the revision of the change
   */
  public Mono<Long> setAttributes(String url, Map<String, String> attributes, boolean merge) {
    return Mono.defer(
        () -> {
          Instance updated =
              registrations.computeIfPresent(
                  url,
                  (key, instance) -> {
                    Instance.Builder builder = instance.toBuilder();
                    if (!merge) {
                      builder.clearAttributes();
                    }
                    return builder.putAllAttributes(attributes).build();
                  });
          if (updated == null) {
            return Mono.error(new ServiceNotFoundException(url + " is not registered here"));
          }
          return request(
                  NameClientFrame.newBuilder()
                      .setSetAttributes(
                          SetAttributes.newBuilder()
                              .setUrl(url)
                              .putAllAttributes(attributes)
                              .setMerge(merge)),
                  url)
              .map(Ack::getRevision);
        });
  }

  /**
   * Watches one service. The stream starts with a snapshot, then every change; after a reconnection
   * it resumes from the last revision delivered (with a resync snapshot if the server no longer has
   * the gap). Single subscriber; cancelling stops the watch.
   *
   * @param serviceName the canonical service name
   * @return the events
   */
  public Flux<WatchUpdate> watch(String serviceName) {
    return Flux.defer(
        () -> {
          WatchState watch = new WatchState(watchIds.incrementAndGet(), serviceName);
          watches.put(watch.id, watch);
          currentSession()
              .flatMap(session -> sendWatch(session, watch))
              .subscribe(
                  null, e -> log.debug("Watch of {} deferred: {}", serviceName, e.toString()));
          return watch.events.asFlux().doFinally(signal -> stopWatch(watch));
        });
  }

  // --- Elections and KV config (issue 6) ---------------------------------------------------------

  /**
   * Campaigns for leadership of the instance's service, and campaigns again after every
   * reconnection (after the instance is registered again) until {@link #resign} or {@link
   * #deregister}.
   *
   * @param url the canonical ServiceUrl of an instance this client registered
   * @return the revision of the Ack; fails with {@code ServiceNotFoundException} if the name server
   *     does not hold the instance for this session
   */
  public Mono<Long> campaign(String url) {
    return Mono.defer(
        () -> {
          if (!registrations.containsKey(url)) {
            return Mono.error(new ServiceNotFoundException(url + " is not registered here"));
          }
          campaigns.add(url);
          return request(
                  NameClientFrame.newBuilder().setCampaign(Campaign.newBuilder().setUrl(url)), url)
              .map(Ack::getRevision)
              .doOnError(e -> campaigns.remove(url));
        });
  }

  /**
   * Leaves the election; completes once the name server has acknowledged it (or does not hold the
   * instance any more).
   *
   * @param url the canonical ServiceUrl
   * @return completes when resigned
   */
  public Mono<Void> resign(String url) {
    return Mono.defer(
        () -> {
          campaigns.remove(url);
          return request(
                  NameClientFrame.newBuilder().setResign(Resign.newBuilder().setUrl(url)), url)
              .onErrorResume(ServiceNotFoundException.class, e -> Mono.empty())
              .then();
        });
  }

  /**
   * Reads one key.
   *
   * @param key the key
   * @return the result and the server's revision
   */
  public Mono<KvGetResult> kvGet(String key) {
    return request(NameClientFrame.newBuilder().setKvGet(KvGet.newBuilder().setKey(key)), key)
        .map(Ack::getKvGet);
  }

  /**
   * Writes one key, with a compare on its mod revision if {@code expectedModRevision} is not null.
   * Like every request, it is sent again if the connection is lost before the answer: a write may
   * then be applied twice, and a compare-and-set may fail on its own first write.
   *
   * @return the revision of the write
   */
  public Mono<Long> kvPut(String key, ByteString value, Long expectedModRevision) {
    return Mono.defer(
        () -> {
          KvPut.Builder put = KvPut.newBuilder().setKey(key).setValue(value);
          if (expectedModRevision != null) {
            put.setExpectedModRevision(expectedModRevision);
          }
          return request(NameClientFrame.newBuilder().setKvPut(put), key).map(Ack::getRevision);
        });
  }

  /**
   * Deletes one key (with a compare if {@code expectedModRevision} is not null) or every key under
   * a prefix.
   *
   * @return how many keys were deleted
   */
  public Mono<Long> kvDelete(String key, boolean prefix, Long expectedModRevision) {
    return Mono.defer(
        () -> {
          KvDelete.Builder delete = KvDelete.newBuilder().setKey(key).setPrefix(prefix);
          if (expectedModRevision != null) {
            delete.setExpectedModRevision(expectedModRevision);
          }
          return request(NameClientFrame.newBuilder().setKvDelete(delete), key).map(Ack::getCount);
        });
  }

  /**
   * Lists the keys under a prefix, in key order.
   *
   * @return the entries
   */
  public Mono<List<KvEntry>> kvList(String prefix) {
    return request(
            NameClientFrame.newBuilder().setKvList(KvList.newBuilder().setPrefix(prefix)), prefix)
        .map(ack -> ack.getKvList().getEntriesList());
  }

  /**
   * Watches the keys under a prefix: a snapshot, then every change; after a reconnection it resumes
   * from the last revision delivered (with a resync snapshot if the server no longer has the gap).
   * Single subscriber; cancelling stops the watch.
   *
   * @param prefix the key prefix; empty for every key
   * @return the events
   */
  public Flux<KvWatchEvent> kvWatch(String prefix) {
    return Flux.defer(
        () -> {
          KvWatchState watch = new KvWatchState(watchIds.incrementAndGet(), prefix);
          kvWatches.put(watch.id, watch);
          currentSession()
              .flatMap(session -> sendKvWatch(session, watch))
              .subscribe(null, e -> log.debug("KV watch of {} deferred: {}", prefix, e.toString()));
          return watch.events.asFlux().doFinally(signal -> stopKvWatch(watch));
        });
  }

  /**
   * Drops the connection as a network failure would; the client reconnects and restores its
   * registrations, campaigns and watches. For fault-injection tests.
   */
  public void disconnect() {
    Session session = current;
    if (session != null) {
      session.connection.dispose();
    }
  }

  private Mono<Ack> sendKvWatch(Session session, KvWatchState watch) {
    if (watch.sentOn.getAndSet(session) == session) {
      return Mono.empty();
    }
    KvWatch body =
        KvWatch.newBuilder()
            .setWatchId(watch.id)
            .setPrefix(watch.prefix)
            .setFromRevision(watch.lastRevision)
            .build();
    return sendWatchRequest(
        session, NameClientFrame.newBuilder().setKvWatch(body), "kv watch", watch.events);
  }

  private void stopKvWatch(KvWatchState watch) {
    if (kvWatches.remove(watch.id) == null) {
      return;
    }
    unwatch(watch.sentOn.get(), watch.id);
  }

  /** One KV watch, kept across sessions. */
  private static final class KvWatchState {
    final long id;
    final String prefix;
    final Sinks.Many<KvWatchEvent> events = Sinks.many().unicast().onBackpressureBuffer();
    final AtomicReference<Session> sentOn = new AtomicReference<>();
    volatile long lastRevision;

    KvWatchState(long id, String prefix) {
      this.id = id;
      this.prefix = prefix;
    }

    void deliver(Session from, KvWatchEvent event) {
      if (sentOn.get() != from) {
        return; // a frame of a session this watch has left
      }
      if (event.hasSnapshot()) {
        // The server's state now: its revision is where the watch resumes from, even when it is
        // lower than the last one seen (another node, or a restarted server).
        lastRevision = event.getRevision();
      } else if (event.getRevision() <= lastRevision) {
        return; // already delivered before a reconnection
      } else {
        lastRevision = event.getRevision();
      }
      events.tryEmitNext(event);
    }
  }

  // --- end of elections and KV config -----------------------------------------------------------

  /**
   * Closes the session and stops reconnecting. Pending requests fail with {@code
   * MeshClosedException}.
   *
   * @return completes when the connection is closed
   */
  public Mono<Void> close() {
    return Mono.defer(
        () -> {
          closed = true;
          reconnecting.dispose();
          Session session = current;
          failPending(null, new MeshClosedException("name-server client closed"));
          if (session == null) {
            return Mono.empty();
          }
          session.connection.dispose();
          return session.connection.onDispose();
        });
  }

  /** Whether a session is open now. */
  public boolean connected() {
    Session session = current;
    return session != null && !session.closed;
  }

  private Mono<Ack> request(NameClientFrame.Builder body, String context) {
    return currentSession()
        .flatMap(session -> exchange(session, body, context))
        .retryWhen(
            Retry.backoff(Long.MAX_VALUE, config.reconnectMinBackoff())
                .maxBackoff(config.reconnectMaxBackoff())
                .filter(e -> e instanceof PeerUnavailableException && !closed))
        .timeout(
            config.requestTimeout(),
            Mono.error(
                () ->
                    new MeshTimeoutException(
                        context
                            + ": no answer from name server "
                            + config.nameServer()
                            + " within "
                            + config.requestTimeout())));
  }

  private Mono<Session> currentSession() {
    return Mono.defer(
        () -> {
          if (closed) {
            return Mono.error(new MeshClosedException("name-server client closed"));
          }
          return sessions.asFlux().filter(session -> !session.closed).next();
        });
  }

  private Mono<Ack> exchange(Session session, NameClientFrame.Builder body, String context) {
    return Mono.defer(
        () -> {
          if (session.closed) {
            return Mono.error(new PeerUnavailableException("name-server connection lost"));
          }
          long id = requestIds.incrementAndGet();
          Pending request = new Pending(session, Sinks.one());
          pending.put(id, request);
          session
              .connection
              .channel()
              .writeAndFlush(body.setRequestId(id).build())
              .addListener(
                  future -> {
                    if (!future.isSuccess() && pending.remove(id) != null) {
                      request.reply.tryEmitError(
                          new PeerUnavailableException(
                              "name-server write failed: " + future.cause(), future.cause()));
                    }
                  });
          return request
              .reply
              .asMono()
              .doFinally(signal -> pending.remove(id))
              .flatMap(
                  frame ->
                      frame.hasAck()
                          ? Mono.just(frame.getAck())
                          : Mono.error(
                              Statuses.toException(frame.getError().getStatus(), context)));
        });
  }

  private Mono<Session> openSession() {
    InetSocketAddress address = config.nameServerAddress();
    return TcpClient.create()
        .runOn(CONTROL_LOOP)
        .option(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT)
        .option(ChannelOption.TCP_NODELAY, true)
        .host(address.getHostString())
        .port(address.getPort())
        .doOnChannelInit((observer, channel, remote) -> installCodec(channel.pipeline()))
        .connect()
        .onErrorMap(
            e -> !(e instanceof PeerUnavailableException),
            e ->
                new PeerUnavailableException(
                    "name server " + config.nameServer() + " unreachable: " + e.getMessage(), e))
        .flatMap(
            connection -> {
              Session session = new Session(connection);
              connection
                  .inbound()
                  .receiveObject()
                  .cast(NameServerFrame.class)
                  .subscribe(
                      frame -> onFrame(session, frame),
                      error -> log.debug("Name-server inbound: {}", error));
              connection.onDispose(() -> onDisconnected(session));
              OpenSession open =
                  OpenSession.newBuilder()
                      .setProtocolVersion(PROTOCOL_VERSION)
                      .setAppId(config.appId())
                      .setTtlMillis(
                          (int) Math.min(Integer.MAX_VALUE, config.sessionTtl().toMillis()))
                      .build();
              return exchange(
                      session, NameClientFrame.newBuilder().setOpenSession(open), "open session")
                  .flatMap(ack -> restore(session, ack))
                  .doOnError(e -> connection.dispose());
            });
  }

  private Mono<Session> restore(Session session, Ack opened) {
    session.ttl = Duration.ofMillis(Math.max(1, opened.getSessionOpened().getTtlMillis()));
    Flux<Ack> registered =
        Flux.fromIterable(registrations.values())
            .concatMap(
                instance ->
                    exchange(
                            session,
                            NameClientFrame.newBuilder()
                                .setRegister(Register.newBuilder().setInstance(instance)),
                            instance.getUrl())
                        // The old session may hold the url until its TTL lapses on the server.
                        .retryWhen(
                            Retry.backoff(Long.MAX_VALUE, config.reconnectMinBackoff())
                                .maxBackoff(config.reconnectMaxBackoff())
                                .filter(
                                    e ->
                                        e
                                            instanceof
                                            io.skymesh.core.exceptions.AlreadyRegisteredException))
                        .timeout(config.sessionTtl().multipliedBy(3))
                        .onErrorResume(
                            e -> {
                              log.error(
                                  "Could not register {} again: {}",
                                  instance.getUrl(),
                                  e.toString());
                              return Mono.empty();
                            }));
    Flux<Ack> watched = Flux.fromIterable(watches.values()).concatMap(w -> sendWatch(session, w));
    Flux<Ack> campaigned =
        Flux.fromIterable(campaigns)
            .filter(registrations::containsKey)
            .concatMap(
                url ->
                    exchange(
                            session,
                            NameClientFrame.newBuilder()
                                .setCampaign(Campaign.newBuilder().setUrl(url)),
                            url)
                        .onErrorResume(
                            e -> {
                              log.error("Could not campaign again for {}: {}", url, e.toString());
                              return Mono.empty();
                            }));
    Flux<Ack> kvWatched =
        Flux.fromIterable(kvWatches.values()).concatMap(w -> sendKvWatch(session, w));
    return registered
        .thenMany(watched)
        .thenMany(campaigned)
        .thenMany(kvWatched)
        .then(Mono.just(session));
  }

  private Mono<Ack> sendWatch(Session session, WatchState watch) {
    if (watch.sentOn.getAndSet(session) == session) {
      return Mono.empty();
    }
    watch.resumingAfterReconnect = watch.lastRevision > 0;
    Watch.Builder body =
        Watch.newBuilder()
            .setWatchId(watch.id)
            .setServiceName(watch.serviceName)
            .setFromRevision(watch.lastRevision);
    return sendWatchRequest(
        session, NameClientFrame.newBuilder().setWatch(body), watch.serviceName, watch.events);
  }

  /** Sends a (KV) watch; an error other than a lost connection fails the watch's stream. */
  private Mono<Ack> sendWatchRequest(
      Session session, NameClientFrame.Builder body, String context, Sinks.Many<?> events) {
    return exchange(session, body, context)
        .doOnError(
            e -> {
              if (!(e instanceof PeerUnavailableException)) {
                events.tryEmitError(e);
              }
            })
        .onErrorResume(PeerUnavailableException.class, e -> Mono.empty());
  }

  /** Stops a watch on the session it was last sent on, if that session is still open. */
  private void unwatch(Session session, long watchId) {
    if (session != null && !session.closed) {
      exchange(
              session,
              NameClientFrame.newBuilder().setUnwatch(Unwatch.newBuilder().setWatchId(watchId)),
              "unwatch")
          .subscribe(null, e -> log.debug("Unwatch failed: {}", e.toString()));
    }
  }

  private void stopWatch(WatchState watch) {
    if (watches.remove(watch.id) == null) {
      return;
    }
    unwatch(watch.sentOn.get(), watch.id);
  }

  private void ready(Session session) {
    log.info("Session open with name server {}", config.nameServer());
    Duration interval = session.ttl.dividedBy(3);
    session.keepAlive =
        Flux.interval(interval, interval)
            .onBackpressureDrop()
            .concatMap(
                tick ->
                    exchange(
                            session,
                            NameClientFrame.newBuilder()
                                .setKeepAlive(KeepAlive.getDefaultInstance()),
                            "keepalive")
                        .onErrorResume(e -> Mono.empty()))
            .subscribe();
    current = session;
    sessions.emitNext(session, Sinks.EmitFailureHandler.busyLooping(Duration.ofSeconds(1)));
  }

  private void onFrame(Session session, NameServerFrame frame) {
    switch (frame.getBodyCase()) {
      case ACK -> complete(frame.getAck().getRequestId(), frame);
      case ERROR -> {
        if (frame.getError().getRequestId() == 0) {
          log.warn("Name server closes the session: {}", frame.getError().getStatus());
        } else {
          complete(frame.getError().getRequestId(), frame);
        }
      }
      case WATCH_EVENT -> {
        WatchState watch = watches.get(frame.getWatchEvent().getWatchId());
        if (watch != null) {
          watch.deliver(session, frame.getWatchEvent());
        }
      }
      case KV_WATCH_EVENT -> {
        KvWatchState watch = kvWatches.get(frame.getKvWatchEvent().getWatchId());
        if (watch != null) {
          watch.deliver(session, frame.getKvWatchEvent());
        }
      }
      default -> log.debug("Ignoring name-server frame {}", frame.getBodyCase());
    }
  }

  private void complete(long requestId, NameServerFrame frame) {
    Pending request = pending.remove(requestId);
    if (request != null) {
      request.reply.tryEmitValue(frame);
    }
  }

  private void onDisconnected(Session session) {
    session.closed = true;
    if (session.keepAlive != null) {
      session.keepAlive.dispose();
    }
    failPending(session, new PeerUnavailableException("name-server connection lost"));
    if (closed || !session.opened()) {
      return;
    }
    log.warn("Lost the name server {}; reconnecting", config.nameServer());
    reconnecting.update(
        openSession()
            .retryWhen(
                Retry.backoff(Long.MAX_VALUE, config.reconnectMinBackoff())
                    .maxBackoff(config.reconnectMaxBackoff())
                    .filter(e -> !closed))
            .subscribe(this::ready, e -> log.error("Gave up reconnecting: {}", e.toString())));
  }

  private void failPending(Session session, RuntimeException error) {
    pending.forEach(
        (id, request) -> {
          if ((session == null || request.session == session) && pending.remove(id, request)) {
            request.reply.tryEmitError(error);
          }
        });
  }

  private void installCodec(ChannelPipeline pipeline) {
    pipeline.addBefore(
        NettyPipeline.ReactiveBridge,
        "skymesh.frameDecoder",
        new FrameDecoder<>(NameServerFrame.parser(), config.maxFrameLength()));
    pipeline.addBefore(
        NettyPipeline.ReactiveBridge,
        "skymesh.frameEncoder",
        new FrameEncoder(config.maxFrameLength()));
  }

  /**
   * A watch event, and whether it is the resync snapshot of a watch resumed on a new session (the
   * name server may have restarted and not yet heard from every instance again).
   *
   * @param event the event
   * @param resyncAfterReconnect true for a snapshot that follows a reconnection
   */
  public record WatchUpdate(WatchEvent event, boolean resyncAfterReconnect) {}

  private record Pending(Session session, Sinks.One<NameServerFrame> reply) {}

  /** One connection's session. */
  private static final class Session {
    final Connection connection;
    volatile boolean closed;
    volatile Duration ttl;
    volatile Disposable keepAlive;

    Session(Connection connection) {
      this.connection = connection;
    }

    boolean opened() {
      return ttl != null;
    }
  }

  /** One watch, kept across sessions. */
  private static final class WatchState {
    final long id;
    final String serviceName;
    final Sinks.Many<WatchUpdate> events = Sinks.many().unicast().onBackpressureBuffer();
    final AtomicReference<Session> sentOn = new AtomicReference<>();
    volatile long lastRevision;
    volatile boolean resumingAfterReconnect;

    WatchState(long id, String serviceName) {
      this.id = id;
      this.serviceName = serviceName;
    }

    void deliver(Session from, WatchEvent event) {
      if (sentOn.get() != from) {
        return; // a frame of a session this watch has left
      }
      if (event.hasSnapshot()) {
        // The server's state now: its revision is where the watch resumes from, even when it is
        // lower than the last one seen (another node, or a restarted server).
        lastRevision = event.getRevision();
      } else if (event.getRevision() <= lastRevision) {
        return; // already delivered before a reconnection
      } else {
        lastRevision = event.getRevision();
      }
      boolean afterReconnect = resumingAfterReconnect && event.hasSnapshot();
      resumingAfterReconnect = false;
      events.tryEmitNext(new WatchUpdate(event, afterReconnect));
    }
  }
}

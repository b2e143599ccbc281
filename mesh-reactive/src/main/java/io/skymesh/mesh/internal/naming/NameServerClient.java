package io.skymesh.mesh.internal.naming;

import com.google.protobuf.ByteString;
import io.skymesh.core.exceptions.AlreadyRegisteredException;
import io.skymesh.core.exceptions.MeshClosedException;
import io.skymesh.core.exceptions.MeshTimeoutException;
import io.skymesh.core.exceptions.PeerUnavailableException;
import io.skymesh.core.exceptions.ServiceNotFoundException;
import io.skymesh.nameserver.client.NameServerConnection;
import io.skymesh.proto.Ack;
import io.skymesh.proto.Campaign;
import io.skymesh.proto.Deregister;
import io.skymesh.proto.Instance;
import io.skymesh.proto.IssueTicket;
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
import io.skymesh.proto.SessionOpened;
import io.skymesh.proto.SetAttributes;
import io.skymesh.proto.TicketIssued;
import io.skymesh.proto.Unwatch;
import io.skymesh.proto.Watch;
import io.skymesh.proto.WatchEvent;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;
import reactor.core.Disposables;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.netty.resources.LoopResources;
import reactor.util.concurrent.Queues;
import reactor.util.retry.Retry;
import reactor.util.retry.RetryBackoffSpec;

/**
 * The mesh's session with the name service, over one connection at a time to one of its nodes.
 *
 * <p>It remembers what it registered, campaigned for and watched. When the connection is lost, or
 * the node stops answering (a KeepAlive unanswered for {@link NameServerClientConfig#answerDeadline
 * half the TTL}), it connects to the next node of its list (round the list, pausing with backoff
 * after each round in which no node answered) and asks to resume its session there. If the node
 * resumes it, the instances and campaigns are still held and nothing is registered again; otherwise
 * every instance is registered again and every campaign renewed. Either way every watch resumes
 * from the last revision it delivered (with a resync snapshot when the node no longer has, or never
 * had, the gap). Requests made while disconnected wait for the next session, up to the request
 * timeout.
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

  private final NameServerClientConfig config;
  private final List<InetSocketAddress> nodes;
  private final AtomicLong wireWatchIds = new AtomicLong();
  private final AtomicInteger nextNode;

  /** Every session with a connection not yet closed: the current one, and any being opened. */
  private final Set<Session> live = ConcurrentHashMap.newKeySet();

  private final Map<String, Instance> registrations = new ConcurrentHashMap<>();
  private final Set<String> campaigns = ConcurrentHashMap.newKeySet();

  /** Every live watch, service and KV. */
  private final Set<WatchState<?>> watches = ConcurrentHashMap.newKeySet();

  /** The live watches by the id they were last sent with. */
  private final Map<Long, WatchState<?>> watchesByWireId = new ConcurrentHashMap<>();

  private final AtomicLong overflows = new AtomicLong();
  private final AtomicLong sessionsOpened = new AtomicLong();
  private final Sinks.Many<Session> sessions = Sinks.many().replay().latest();
  private final Disposable.Swap reconnecting = Disposables.swap();
  private volatile boolean closed;
  private volatile Session current;

  private volatile Runnable onSessionReopened = () -> {};

  /** Why the latest attempt to open a session failed, for the start timeout's message. */
  private volatile Throwable lastConnectFailure;

  /** The id of the last session opened, to resume it after the connection is lost. */
  private volatile String sessionId;

  /**
   * Creates a client; {@link #start()} connects it.
   *
   * @param config the configuration
   */
  public NameServerClient(NameServerClientConfig config) {
    // Clients of a cluster spread over its nodes.
    this(config, ThreadLocalRandom.current().nextInt(config.nameServers().size()));
  }

  /** Creates a client that tries the node at {@code firstNode} first, for tests. */
  NameServerClient(NameServerClientConfig config, int firstNode) {
    this.config = config;
    this.nodes = config.nameServers();
    this.nextNode = new AtomicInteger(firstNode);
  }

  /**
   * Connects to one of the nodes and opens a session, going round the list with backoff while none
   * is reachable, up to the start timeout. A node that refuses the session (a bad token, a protocol
   * it does not speak) fails the start.
   *
   * @return completes when the first session is open
   */
  public Mono<Void> start() {
    return connectAnywhere(e -> e instanceof PeerUnavailableException)
        .timeout(
            config.startTimeout(),
            Mono.error(
                () -> {
                  Throwable last = lastConnectFailure;
                  return new PeerUnavailableException(
                      "name servers "
                          + config.describeNameServers()
                          + " unreachable for "
                          + config.startTimeout()
                          + (last == null ? "" : " (the last attempt: " + last.getMessage() + ")"),
                      last);
                }),
            config.timer())
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
   * the gap). Single subscriber; cancelling stops the watch. At most {@link
   * NameServerClientConfig#watchBufferSize} events wait for the subscriber's demand: a subscriber
   * that falls that far behind pauses the watch, which resumes from where it stopped once the
   * subscriber has caught up (the server replays the rest, or resyncs); nothing is dropped.
   *
   * @param serviceName the canonical service name
   * @return the events
   */
  public Flux<WatchUpdate> watch(String serviceName) {
    return Flux.defer(
        () -> {
          ServiceWatch watch = new ServiceWatch(serviceName);
          return start(watch);
        });
  }

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
   * Sets what runs each time a session opens after the first (on this node or another), once its
   * registrations and watches are restored.
   *
   * @param listener runs on the name-server connection's thread; must not block
   */
  public void onSessionReopened(Runnable listener) {
    this.onSessionReopened = Objects.requireNonNull(listener, "listener");
  }

  /**
   * Asks for a peer ticket for this client's app and {@code holderKey}.
   *
   * @param holderKey the holder's Ed25519 public key, encoded
   * @return the ticket and the key of its issuer
   */
  public Mono<TicketIssued> issueTicket(ByteString holderKey) {
    return request(
            NameClientFrame.newBuilder()
                .setIssueTicket(IssueTicket.newBuilder().setHolderKey(holderKey)),
            "IssueTicket")
        .map(Ack::getTicketIssued);
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
   * Single subscriber; cancelling stops the watch. Bounded as {@link #watch(String)} is.
   *
   * @param prefix the key prefix; empty for every key
   * @return the events
   */
  public Flux<KvWatchEvent> kvWatch(String prefix) {
    return Flux.defer(
        () -> {
          KvWatchState watch = new KvWatchState(prefix);
          return start(watch);
        });
  }

  /**
   * Drops the connection as a network failure would; the client reconnects (to the next node) and
   * restores its registrations, campaigns and watches. For fault-injection tests.
   */
  public void disconnect() {
    Session session = current;
    if (session != null) {
      session.connection.abort(new PeerUnavailableException("name-server connection dropped"));
    }
  }

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
          // Every pending request, on the current session or one being opened, fails with
          // MeshClosedException as its connection closes.
          return Flux.fromIterable(live).flatMap(session -> session.connection.close()).then();
        });
  }

  /** Whether a session is open now. */
  public boolean connected() {
    Session session = current;
    return session != null && !session.isClosed();
  }

  /** The node of the open session, or null while there is none. */
  public InetSocketAddress nameServer() {
    Session session = current;
    return session == null || session.isClosed() ? null : session.node;
  }

  /**
   * How many sessions this client has opened, the first one included: each one after the first is a
   * reconnection (to the same node or another).
   */
  public long sessionsOpened() {
    return sessionsOpened.get();
  }

  /** How many times a watch paused because its subscriber fell a whole buffer behind. */
  public long watchOverflows() {
    return overflows.get();
  }

  /** How many requests wait for their answer, for tests. */
  int pendingRequests() {
    return live.stream().mapToInt(session -> session.connection.pendingRequests()).sum();
  }

  private Mono<Ack> request(NameClientFrame.Builder body, String context) {
    return currentSession()
        .flatMap(session -> exchange(session, body, context))
        .retryWhen(backoff().filter(e -> e instanceof PeerUnavailableException && !closed))
        .timeout(
            config.requestTimeout(),
            Mono.error(
                () ->
                    new MeshTimeoutException(
                        context
                            + ": no answer from name servers "
                            + config.describeNameServers()
                            + " within "
                            + config.requestTimeout())),
            config.timer());
  }

  private RetryBackoffSpec backoff() {
    return Retry.backoff(Long.MAX_VALUE, config.reconnectMinBackoff())
        .maxBackoff(config.reconnectMaxBackoff())
        .scheduler(config.timer());
  }

  private Mono<Session> currentSession() {
    return Mono.defer(
        () -> {
          if (closed) {
            return Mono.error(new MeshClosedException("name-server client closed"));
          }
          return sessions.asFlux().filter(session -> !session.isClosed()).next();
        });
  }

  private Mono<Ack> exchange(Session session, NameClientFrame.Builder body, String context) {
    return Mono.defer(
        () -> {
          if (session.isClosed()) {
            return Mono.error(new PeerUnavailableException("name-server connection lost"));
          }
          return session.connection.request(body, context);
        });
  }

  /**
   * An exchange that must be answered within {@code deadline}; past it the node counts as gone: the
   * connection is closed, which starts the failover.
   */
  private Mono<Ack> exchangeWithin(
      Session session, NameClientFrame.Builder body, String context, Duration deadline) {
    return exchange(session, body, context)
        .timeout(deadline, config.timer())
        .onErrorMap(
            TimeoutException.class,
            e -> {
              log.warn(
                  "Name server {} did not answer {} within {}; leaving it",
                  NameServerClientConfig.describe(session.node),
                  context,
                  deadline);
              PeerUnavailableException gone =
                  new PeerUnavailableException(
                      "name server "
                          + NameServerClientConfig.describe(session.node)
                          + " did not answer "
                          + context
                          + " within "
                          + deadline,
                      e);
              session.connection.abort(gone);
              return gone;
            });
  }

  /**
   * Opens a session on one node after another, starting with the next in the list, until one opens:
   * the nodes of a round are tried at once, one after the other, and each round in which none
   * answered is followed by a pause that grows from the minimum backoff to the maximum.
   */
  private Mono<Session> connectAnywhere(Predicate<Throwable> retryable) {
    int size = nodes.size();
    return Mono.defer(() -> openSession(nodes.get(Math.floorMod(nextNode.getAndIncrement(), size))))
        .retryWhen(
            Retry.from(
                signals ->
                    signals.concatMap(
                        signal -> {
                          Throwable failure = signal.failure();
                          lastConnectFailure = failure;
                          if (closed || !retryable.test(failure)) {
                            return Mono.error(failure);
                          }
                          long failures = signal.totalRetries() + 1;
                          if (failures % size != 0) {
                            return Mono.just(failures); // the next node of this round, at once
                          }
                          Duration pause = roundPause(failures / size);
                          log.info(
                              "No name server of {} answered ({}); trying again in {}",
                              config.describeNameServers(),
                              failure.getMessage(),
                              pause);
                          return Mono.delay(pause, config.timer());
                        })));
  }

  /** The pause after {@code round} rounds without an answer: doubling, capped, with jitter. */
  private Duration roundPause(long round) {
    long min = config.reconnectMinBackoff().toNanos();
    long max = config.reconnectMaxBackoff().toNanos();
    long pause = round > 62 ? max : Math.min(max, min << Math.min(62, round - 1));
    if (pause < 0) {
      pause = max;
    }
    long jitter = pause / 2;
    return Duration.ofNanos(
        Math.min(max, pause - jitter + ThreadLocalRandom.current().nextLong(jitter + 1)));
  }

  private Mono<Session> openSession(InetSocketAddress node) {
    Duration deadline = NameServerClientConfig.answerDeadline(config.sessionTtl());
    Session session = new Session(node);
    NameServerConnection.Builder builder =
        NameServerConnection.builder(node.getHostString(), node.getPort());
    if (config.tls() != null) {
      builder.tls(config.tls());
    }
    return builder
        .runOn(CONTROL_LOOP)
        .connectTimeout(deadline)
        .maxFrameLength(config.maxFrameLength())
        .timer(config.timer())
        // Events come only for watches sent on this session, so after its connection is set.
        .onEvent(frame -> onEvent(session, frame))
        .connect()
        .flatMap(
            connection -> {
              session.connection = connection;
              live.add(session);
              connection
                  .onClose()
                  .subscribe(
                      null,
                      reason -> onDisconnected(session, reason),
                      () -> onDisconnected(session, null));
              String resume = sessionId;
              OpenSession.Builder open =
                  OpenSession.newBuilder()
                      .setProtocolVersion(PROTOCOL_VERSION)
                      .setAppId(config.appId())
                      .setToken(config.token())
                      .setTtlMillis(
                          (int) Math.min(Integer.MAX_VALUE, config.sessionTtl().toMillis()));
              if (resume != null) {
                open.setResumeSessionId(resume);
              }
              return exchangeWithin(
                      session,
                      NameClientFrame.newBuilder().setOpenSession(open),
                      "open session",
                      deadline)
                  .flatMap(ack -> restore(session, ack.getSessionOpened(), resume != null))
                  .doOnError(e -> connection.dispose())
                  .doOnCancel(connection::dispose);
            });
  }

  /**
   * Starts the session's keepalives, then brings the node up to date: the instances and campaigns
   * (unless it resumed the session, which kept them) and every watch.
   */
  private Mono<Session> restore(Session session, SessionOpened opened, boolean askedToResume) {
    session.ttl = Duration.ofMillis(Math.max(1, opened.getTtlMillis()));
    startKeepAlive(session);
    // A server that does not know resume_session_id ignores it and answers resumed = false.
    boolean resumed = askedToResume && opened.getResumed();
    if (!opened.getSessionId().isEmpty()) {
      sessionId = opened.getSessionId();
    }
    Flux<Ack> registered = resumed ? Flux.empty() : registerAgain(session);
    Flux<Ack> campaigned = resumed ? Flux.empty() : campaignAgain(session);
    Flux<Ack> watched =
        Flux.fromIterable(watches)
            .filter(w -> !w.paused.get())
            .concatMap(w -> send(session, w, resumed, true));
    return registered
        .thenMany(watched)
        .thenMany(campaigned)
        .then(
            Mono.defer(
                () -> {
                  if (session.isClosed()) {
                    return Mono.error(
                        new PeerUnavailableException(
                            "name server "
                                + NameServerClientConfig.describe(session.node)
                                + " lost while restoring the session"));
                  }
                  log.info(
                      "Session {} with name server {} ({}, {} instance(s), {} watch(es))",
                      sessionId,
                      NameServerClientConfig.describe(session.node),
                      resumed ? "resumed" : "new",
                      registrations.size(),
                      watches.size());
                  return Mono.just(session);
                }));
  }

  private Flux<Ack> registerAgain(Session session) {
    return Flux.fromIterable(registrations.values())
        .concatMap(
            instance ->
                exchange(
                        session,
                        NameClientFrame.newBuilder()
                            .setRegister(Register.newBuilder().setInstance(instance)),
                        instance.getUrl())
                    // The old session may hold the url until its TTL lapses on the server.
                    .retryWhen(backoff().filter(e -> e instanceof AlreadyRegisteredException))
                    .timeout(config.sessionTtl().multipliedBy(3), config.timer())
                    .onErrorResume(
                        e -> {
                          if (!session.isClosed()) {
                            log.error(
                                "Could not register {} again: {}", instance.getUrl(), e.toString());
                          }
                          return Mono.empty();
                        }));
  }

  private Flux<Ack> campaignAgain(Session session) {
    return Flux.fromIterable(campaigns)
        .filter(registrations::containsKey)
        .concatMap(
            url ->
                exchange(
                        session,
                        NameClientFrame.newBuilder().setCampaign(Campaign.newBuilder().setUrl(url)),
                        url)
                    .onErrorResume(
                        e -> {
                          if (!session.isClosed()) {
                            log.error("Could not campaign again for {}: {}", url, e.toString());
                          }
                          return Mono.empty();
                        }));
  }

  private void startKeepAlive(Session session) {
    Duration interval = NameServerClientConfig.keepAliveInterval(session.ttl);
    Duration deadline = NameServerClientConfig.answerDeadline(session.ttl);
    session.keepAlive =
        Flux.interval(interval, interval, config.timer())
            .onBackpressureDrop()
            .concatMap(
                tick ->
                    exchangeWithin(
                            session,
                            NameClientFrame.newBuilder()
                                .setKeepAlive(KeepAlive.getDefaultInstance()),
                            "a keepalive",
                            deadline)
                        .onErrorResume(e -> Mono.empty()),
                1)
            .subscribe();
    if (session.isClosed()) {
      session.keepAlive.dispose();
    }
  }

  /** Starts a watch: on the current session now if there is one, and on every later one. */
  private <T> Flux<T> start(WatchState<T> watch) {
    watches.add(watch);
    currentSession()
        .flatMap(session -> send(session, watch, false, false))
        .subscribe(null, e -> log.debug("{} deferred: {}", watch, e.toString()));
    return watch.flux().doFinally(signal -> stop(watch));
  }

  /**
   * Sends a watch on {@code session} under a new wire id, from its last revision, unless it was
   * sent there already. An error other than a lost connection fails the watch's stream. On a
   * resumed session, the node may still hold the watch under its old id: that one is stopped.
   */
  private Mono<Ack> send(
      Session session, WatchState<?> watch, boolean resumed, boolean afterReconnect) {
    Session previous = watch.sentOn.getAndSet(session);
    if (previous == session) {
      return Mono.empty();
    }
    long oldWireId = watch.wireId;
    long wireId = wireWatchIds.incrementAndGet();
    watchesByWireId.remove(oldWireId);
    watch.wireId = wireId;
    watch.resumingAfterReconnect = afterReconnect && watch.lastRevision > 0;
    watchesByWireId.put(wireId, watch);
    if (resumed && oldWireId != 0) {
      unwatch(session, oldWireId);
    }
    return exchange(session, watch.request(wireId), watch.toString())
        .doOnError(
            e -> {
              if (!(e instanceof PeerUnavailableException)) {
                watch.events.tryEmitError(e);
              }
            })
        .onErrorResume(PeerUnavailableException.class, e -> Mono.empty());
  }

  private void stop(WatchState<?> watch) {
    if (!watches.remove(watch)) {
      return;
    }
    watchesByWireId.remove(watch.wireId, watch);
    unwatch(watch.sentOn.get(), watch.wireId);
  }

  /** Stops a watch on a session, if that session is still open. */
  private void unwatch(Session session, long wireId) {
    if (session != null && !session.isClosed()) {
      exchange(
              session,
              NameClientFrame.newBuilder().setUnwatch(Unwatch.newBuilder().setWatchId(wireId)),
              "unwatch")
          .subscribe(null, e -> log.debug("Unwatch failed: {}", e.toString()));
    }
  }

  private void ready(Session session) {
    if (closed) {
      session.connection.dispose(); // opened as the client was closing
      return;
    }
    boolean lost;
    synchronized (this) {
      lost = session.closed;
      if (!lost) {
        current = session;
      }
    }
    if (lost) {
      reconnect(); // lost between its restore and now: its onDisconnected did not reconnect
      return;
    }
    long opened = sessionsOpened.incrementAndGet();
    sessions.emitNext(session, Sinks.EmitFailureHandler.busyLooping(Duration.ofSeconds(1)));
    if (opened > 1) {
      onSessionReopened.run();
    }
  }

  /** Routes a watch or KV watch event to its watch; on the connection's event loop. */
  private void onEvent(Session session, NameServerFrame frame) {
    switch (frame.getBodyCase()) {
      case WATCH_EVENT -> {
        if (watchesByWireId.get(frame.getWatchEvent().getWatchId()) instanceof ServiceWatch watch) {
          watch.deliver(session, frame.getWatchEvent());
        }
      }
      case KV_WATCH_EVENT -> {
        if (watchesByWireId.get(frame.getKvWatchEvent().getWatchId())
            instanceof KvWatchState watch) {
          watch.deliver(session, frame.getKvWatchEvent());
        }
      }
      default -> log.debug("Ignoring name-server frame {}", frame.getBodyCase());
    }
  }

  /**
   * The session's connection has closed, and its pending requests have failed: with {@code
   * PeerUnavailableException}, or {@code MeshClosedException} when this client closed it ({@code
   * reason} null).
   */
  private void onDisconnected(Session session, Throwable reason) {
    boolean wasCurrent;
    synchronized (this) {
      session.closed = true;
      wasCurrent = current == session;
    }
    live.remove(session);
    Disposable keepAlive = session.keepAlive;
    if (keepAlive != null) {
      keepAlive.dispose();
    }
    if (closed || !wasCurrent) {
      return; // a session still opening fails its own attempt, which goes on to the next node
    }
    log.warn(
        "Lost the name server {} ({}); moving to the next of {}",
        NameServerClientConfig.describe(session.node),
        reason == null ? "closed" : reason.getMessage(),
        config.describeNameServers());
    reconnect();
  }

  private void reconnect() {
    if (closed) {
      return;
    }
    reconnecting.update(
        connectAnywhere(e -> true)
            .subscribe(this::ready, e -> log.error("Gave up reconnecting: {}", e.toString())));
  }

  /**
   * A watch event, and whether it is the resync snapshot of a watch resumed on a new session (the
   * name server may have restarted, or be another node, and not yet have heard from every instance
   * again).
   *
   * @param event the event
   * @param resyncAfterReconnect true for a snapshot that follows a reconnection
   */
  public record WatchUpdate(WatchEvent event, boolean resyncAfterReconnect) {}

  /** One connection's session. */
  private static final class Session {
    final InetSocketAddress node;
    volatile NameServerConnection connection;
    volatile boolean closed;
    volatile Duration ttl;
    volatile Disposable keepAlive;

    Session(InetSocketAddress node) {
      this.node = node;
    }

    /** Whether its connection has closed or started closing. */
    boolean isClosed() {
      return closed || connection.isDisposed();
    }
  }

  /**
   * One watch, kept across sessions: what it watches, the last revision it delivered, and the
   * session and wire id it was last sent with. Its events are delivered on the control event loop,
   * one at a time, into a buffer of at most {@link NameServerClientConfig#watchBufferSize} events
   * that its subscriber drains at its own pace.
   *
   * <p>When the buffer is full the watch pauses: it is stopped on the server and the event that
   * found no room is not taken (nor any after it). Once the subscriber has drained the buffer to a
   * quarter, the watch is sent again from the last revision it buffered, so the server replays what
   * was not taken (or, if its history no longer reaches back that far, sends a resync snapshot).
   * Nothing is lost and the buffer never grows past its bound; a subscriber that never drains holds
   * one paused watch and a full buffer, nothing more.
   */
  private abstract class WatchState<T> {
    final String target;
    final int bound = config.watchBufferSize();
    final Sinks.Many<T> events =
        Sinks.many().unicast().onBackpressureBuffer(Queues.<T>get(bound).get());
    final AtomicInteger buffered = new AtomicInteger();
    final AtomicBoolean paused = new AtomicBoolean();
    final AtomicReference<Session> sentOn = new AtomicReference<>();
    volatile long wireId;
    volatile long lastRevision;
    volatile boolean resumingAfterReconnect;

    WatchState(String target) {
      this.target = target;
    }

    /** The request that starts this watch under {@code wireId}, from its last revision. */
    abstract NameClientFrame.Builder request(long wireId);

    /** The subscriber's side of the buffer. */
    Flux<T> flux() {
      return events
          .asFlux()
          .doOnNext(
              event -> {
                if (buffered.decrementAndGet() <= bound / 4 && paused.get()) {
                  resume();
                }
              });
    }

    /**
     * Whether an event of {@code from} at {@code revision} is new and has room, advancing the last
     * revision if so. A snapshot is the server's state now: its revision is where the watch resumes
     * from, even when it is lower than the last one seen (another node, or a restarted server).
     */
    final boolean accept(Session from, boolean snapshot, long revision) {
      if (sentOn.get() != from || paused.get()) {
        return false; // a frame of a session this watch has left, or sent before the pause
      }
      if (!snapshot && revision <= lastRevision) {
        return false; // already delivered before a reconnection
      }
      if (buffered.get() >= bound) {
        pause(from);
        return false;
      }
      lastRevision = revision;
      buffered.incrementAndGet();
      return true;
    }

    /** Emits an accepted event; it fits, as accept() counted it. */
    final void emit(T event) {
      Sinks.EmitResult result = events.tryEmitNext(event);
      if (result.isFailure()) {
        buffered.decrementAndGet(); // the subscriber has gone
      }
    }

    private void pause(Session session) {
      overflows.incrementAndGet();
      log.warn(
          "{} fell {} events behind its subscriber; paused, resumes from revision {} once drained",
          this,
          bound,
          lastRevision);
      watchesByWireId.remove(wireId, this);
      sentOn.set(null);
      unwatch(session, wireId);
      paused.set(true);
      if (buffered.get() <= bound / 4) {
        resume(); // drained while pausing
      }
    }

    private void resume() {
      if (!paused.compareAndSet(true, false) || !watches.contains(this)) {
        return;
      }
      log.info("{} resumes from revision {}", this, lastRevision);
      currentSession()
          .flatMap(session -> send(session, this, false, false))
          .subscribe(null, e -> log.debug("{} deferred: {}", this, e.toString()));
    }
  }

  /** A watch of one service. */
  private final class ServiceWatch extends WatchState<WatchUpdate> {

    ServiceWatch(String serviceName) {
      super(serviceName);
    }

    @Override
    NameClientFrame.Builder request(long wireId) {
      return NameClientFrame.newBuilder()
          .setWatch(
              Watch.newBuilder()
                  .setWatchId(wireId)
                  .setServiceName(target)
                  .setFromRevision(lastRevision));
    }

    void deliver(Session from, WatchEvent event) {
      if (!accept(from, event.hasSnapshot(), event.getRevision())) {
        return;
      }
      boolean afterReconnect = resumingAfterReconnect && event.hasSnapshot();
      resumingAfterReconnect = false;
      emit(new WatchUpdate(event, afterReconnect));
    }

    @Override
    public String toString() {
      return "watch of " + target;
    }
  }

  /** A watch of the KV keys under a prefix. */
  private final class KvWatchState extends WatchState<KvWatchEvent> {

    KvWatchState(String prefix) {
      super(prefix);
    }

    @Override
    NameClientFrame.Builder request(long wireId) {
      return NameClientFrame.newBuilder()
          .setKvWatch(
              KvWatch.newBuilder()
                  .setWatchId(wireId)
                  .setPrefix(target)
                  .setFromRevision(lastRevision));
    }

    void deliver(Session from, KvWatchEvent event) {
      if (accept(from, event.hasSnapshot(), event.getRevision())) {
        emit(event);
      }
    }

    @Override
    public String toString() {
      return "KV watch of \"" + target + "\"";
    }
  }
}

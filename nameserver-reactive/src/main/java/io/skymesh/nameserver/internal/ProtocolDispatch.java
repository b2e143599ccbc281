package io.skymesh.nameserver.internal;

import com.google.protobuf.ByteString;
import io.netty.util.ReferenceCountUtil;
import io.skymesh.codec.FrameException;
import io.skymesh.codec.Tickets;
import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.Statuses;
import io.skymesh.nameserver.NameServerCounters;
import io.skymesh.nameserver.NameServerMetrics;
import io.skymesh.nameserver.Principal;
import io.skymesh.nameserver.spi.Counted;
import io.skymesh.nameserver.spi.NameStore;
import io.skymesh.nameserver.spi.NameStoreException;
import io.skymesh.nameserver.spi.ServiceSelector;
import io.skymesh.nameserver.spi.StoreSession;
import io.skymesh.proto.Ack;
import io.skymesh.proto.Campaign;
import io.skymesh.proto.ClearServices;
import io.skymesh.proto.Deregister;
import io.skymesh.proto.Instance;
import io.skymesh.proto.IssueTicket;
import io.skymesh.proto.KvDelete;
import io.skymesh.proto.KvEntry;
import io.skymesh.proto.KvGet;
import io.skymesh.proto.KvGetResult;
import io.skymesh.proto.KvList;
import io.skymesh.proto.KvListResult;
import io.skymesh.proto.KvPut;
import io.skymesh.proto.KvSnapshot;
import io.skymesh.proto.KvWatch;
import io.skymesh.proto.KvWatchEvent;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.OpenSession;
import io.skymesh.proto.Register;
import io.skymesh.proto.Resign;
import io.skymesh.proto.SessionOpened;
import io.skymesh.proto.SetAttributes;
import io.skymesh.proto.Snapshot;
import io.skymesh.proto.StatusCode;
import io.skymesh.proto.TicketClaims;
import io.skymesh.proto.TicketIssued;
import io.skymesh.proto.Unwatch;
import io.skymesh.proto.Watch;
import io.skymesh.proto.WatchEvent;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.security.KeyPair;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscription;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.BaseSubscriber;
import reactor.core.publisher.Flux;
import reactor.core.publisher.FluxSink;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;
import reactor.netty.Connection;
import reactor.netty.NettyInbound;
import reactor.netty.NettyOutbound;

/**
 * The protocol dispatch and the one writer: reads each connection's frames, checks them, answers
 * them, and drives the parts that hold the state ({@link InstanceTable}, {@link Watches}, {@link
 * Elections}, {@link KvSpace}, {@link Revisions}). Every method whose name does not say otherwise
 * runs on the writer, through {@link #executor}; the parts are plain, unsynchronized and confined
 * to it. Frames leave it as immutable protobuf messages; other threads read only the published
 * {@link #metrics()}.
 */
final class ProtocolDispatch {

  private static final Logger log = LoggerFactory.getLogger(ProtocolDispatch.class);

  /** The name-server protocol version this server speaks. */
  static final int PROTOCOL_VERSION = 1;

  /** How long a closing connection may take to write its last frame before it is cut. */
  static final long CLOSE_GRACE_MILLIS = 1000;

  /** The longest address: a 253-character host name, or a bracketed IPv6 address, and a port. */
  static final int MAX_ADDRESS_LENGTH = 261;

  private static final Pattern APP_ID = Pattern.compile("[A-Za-z0-9_-]{1,64}");

  private final NameServerConfig config;
  private final Scheduler scheduler;
  private final SerialExecutor executor;
  private final String serverId;

  private final AtomicLong sessionNumbers = new AtomicLong();
  private boolean closed;
  private volatile boolean closeRequested;

  private final Revisions revisions;
  private final Watches watches;
  private final Elections elections;
  private final InstanceTable instances;
  private final KvSpace kv;

  /**
   * The store the sessions' requests are driven against, asynchronously; null when the embedded
   * parts above hold the state (then the store path below is never taken).
   */
  private final NameStore store;

  /** The data directory's log, or null when everything is in memory. */
  private final DataLog dataLog;

  /** The data directory failed: KV writes are refused. */
  private boolean logFailed;

  /** Sessions with answers waiting for their log record to be written. */
  private final Set<Session> waitingForLog = new LinkedHashSet<>();

  private long queuedFrames;
  private int peakQueuedFrames;
  private long resyncs;
  private volatile NameServerMetrics metrics = NameServerMetrics.EMPTY;
  private final OperationCounters counters = new OperationCounters();
  private final Access access;

  /** The connections held from each source IP address; the writer only. */
  private final Map<InetAddress, Integer> connectionsBySource = new HashMap<>();

  /** The key peer tickets are signed with. */
  private final KeyPair ticketKey;

  /** The wire form of the public half of {@link #ticketKey}, sent with every ticket. */
  private final ByteString issuerKey;

  ProtocolDispatch(
      NameServerConfig config, KeyPair ticketKey, Scheduler scheduler, DataLog.Opened opened) {
    this.config = config;
    this.scheduler = scheduler;
    this.executor = new SerialExecutor(scheduler, this::publishMetrics);
    this.store = config.store();
    this.access = new Access(config.principals());
    this.ticketKey = ticketKey;
    this.issuerKey = Tickets.encode(ticketKey.getPublic());
    this.dataLog = opened == null ? null : opened.log();
    long start = opened == null ? config.startRevision() : opened.recovered().revision();
    this.revisions = new Revisions(start, dataLog, opened == null ? 0 : opened.revisionCeiling());
    this.watches =
        new Watches(new History(config.historyLimit(), config.historyBytesLimit(), start));
    this.elections =
        new Elections(
            revisions,
            watches,
            opened == null ? 0 : opened.recovered().termFloor(),
            dataLog,
            opened == null ? 0 : opened.termCeiling());
    this.instances = new InstanceTable(revisions, watches, elections);
    this.kv =
        new KvSpace(
            revisions, watches, dataLog, opened == null ? Map.of() : opened.recovered().kv());
    this.serverId = Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 16);
    publishMetrics();
    if (dataLog != null) {
      dataLog.start(written -> executor.execute(() -> logWritten(written)));
    }
  }

  /** Any thread. The counters as of the writer's latest batch. */
  NameServerMetrics metrics() {
    return metrics;
  }

  /** Whether no principal is configured: anyone may do anything. */
  boolean openMode() {
    return access.open();
  }

  /** Any thread. What the server has done, counted as it happens. */
  NameServerCounters counters() {
    return counters;
  }

  /**
   * Any thread. Completes when this node can serve; fails with {@code UNAVAILABLE} naming the
   * reason when its store cannot be reached.
   */
  Mono<Void> checkHealth() {
    return store == null
        ? Mono.empty()
        : checkStore()
            .onErrorMap(error -> Statuses.toException(StatusCode.UNAVAILABLE, error.getMessage()));
  }

  /** The store's health check, failing with a {@code NameStoreException(UNAVAILABLE)}. */
  private Mono<Void> checkStore() {
    return store
        .checkHealth()
        .onErrorMap(
            error ->
                new NameStoreException(
                    StatusCode.UNAVAILABLE,
                    "the store is unreachable: " + error.getMessage(),
                    error));
  }

  /** Any thread. The revision of the latest change applied. */
  long revision() {
    return store == null ? revisions.published() : store.revision();
  }

  /** The current revision: the embedded counter's, or the store's. */
  private long current() {
    return store == null ? revisions.current() : store.revision();
  }

  // ---------------------------------------------------------------------------------------------
  // Connections. handle() runs on the connection's event loop; the rest on the writer.

  /** Event loop. Serves one client connection until it closes. */
  Publisher<Void> handle(NettyInbound in, NettyOutbound out) {
    Connection[] holder = new Connection[1];
    in.withConnection(connection -> holder[0] = connection);
    Connection connection = holder[0];
    if (closeRequested) {
      connection.dispose();
      return Mono.empty();
    }
    Session session = newSession(connection);
    // Submitted before anything else of this connection, so it is applied first.
    executor.execute(() -> connected(session));
    connection.onDispose(() -> executor.execute(() -> disconnected(session)));
    in.receiveObject().subscribe(new InboundSubscriber(session));
    // Answers as NameServerFrames, watch events as WatchFrames sharing their event's encoding.
    Flux<Object> outbound =
        Flux.create(
            sink -> {
              sink.onRequest(n -> executor.execute(session::drain));
              executor.execute(() -> session.attach(sink));
            },
            FluxSink.OverflowStrategy.ERROR);
    return out.sendObject(outbound)
        .then()
        .onErrorResume(
            error -> {
              // Completing closes the connection, which ends the session.
              if (error instanceof FrameException) {
                log.warn("{} closed: a frame could not be sent: {}", session, error.getMessage());
              } else {
                log.debug("{} outbound ended: {}", session, error.toString());
              }
              return Mono.empty();
            });
  }

  private Session newSession(Connection connection) {
    long number = sessionNumbers.incrementAndGet();
    return new Session(
        number,
        serverId + "-" + number,
        connection,
        this,
        config.watcherQueueLimit(),
        config.maxRequestsPerSecond());
  }

  private void connected(Session session) {
    if (closed) {
      session.close(closingError());
      forceCloseLater(session);
      return;
    }
    if (instances.sessions().size() >= config.maxConnections()) {
      log.warn(
          "Refusing a connection from {}: the name server holds {} connections, its limit",
          session.connection.channel().remoteAddress(),
          instances.sessions().size());
      session.close(
          Replies.error(
              0,
              StatusCode.RESOURCE_EXHAUSTED,
              "this name server holds "
                  + instances.sessions().size()
                  + " connections, its limit; try another node of the name service, or later"));
      forceCloseLater(session);
      return;
    }
    InetAddress source = sourceOf(session);
    if (source != null) {
      int fromThere = connectionsBySource.getOrDefault(source, 0);
      if (fromThere >= config.maxConnectionsPerAddress()) {
        log.warn(
            "Refusing a connection from {}: the name server holds {} connections from that"
                + " address, its limit per address",
            source.getHostAddress(),
            fromThere);
        session.close(
            Replies.error(
                0,
                StatusCode.RESOURCE_EXHAUSTED,
                "this name server holds "
                    + fromThere
                    + " connections from "
                    + source.getHostAddress()
                    + ", its limit per address"));
        forceCloseLater(session);
        return;
      }
      connectionsBySource.put(source, fromThere + 1);
      session.source = source;
    }
    instances.sessions().add(session);
    session.ttlNanos = TimeUnit.MILLISECONDS.toNanos(config.sessionTtl().toMillis());
    session.lastSeenNanos = System.nanoTime();
    scheduleExpiryCheck(session, session.ttlNanos);
    log.debug("{} connected from {}", session, session.connection.channel().remoteAddress());
  }

  private void disconnected(Session session) {
    if (!session.ended) {
      if (store != null) {
        // The client may resume the session on another connection, of this node or another.
        endStoreSide(session, null);
      } else {
        endSession(session, "session closed");
      }
    }
    session.close(null);
    instances.sessions().remove(session);
    if (session.source != null) {
      connectionsBySource.computeIfPresent(session.source, (source, n) -> n > 1 ? n - 1 : null);
      session.source = null;
    }
  }

  /** Subscribes to a connection's request frames, as many at a time as its session grants. */
  private final class InboundSubscriber extends BaseSubscriber<Object> {
    private final Session session;

    InboundSubscriber(Session session) {
      this.session = session;
    }

    @Override
    protected void hookOnSubscribe(Subscription subscription) {
      executor.execute(() -> session.attachInbound(subscription));
    }

    @Override
    protected void hookOnNext(Object frame) {
      if (frame instanceof NameClientFrame request) {
        executor.execute(() -> onRequest(session, request));
      } else {
        // Only the frame decoder feeds this pipeline; anything else is dropped, but still counted.
        ReferenceCountUtil.release(frame);
        executor.execute(
            () -> {
              session.requestReceived();
              session.drain();
            });
      }
    }

    @Override
    protected void hookOnError(Throwable error) {
      // Frame errors are logged once by the decoder, which also closes the connection.
      log.debug("{} inbound ended: {}", session, error.toString());
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Requests.

  private void onRequest(Session session, NameClientFrame frame) {
    session.requestReceived();
    counters.requestRead(frame.getBodyCase());
    if (session.ended || session.closing) {
      return;
    }
    // Any well-formed frame shows the client is alive, not only KeepAlive.
    session.lastSeenNanos = System.nanoTime();
    if (session.storeBusy) {
      // One store call per session at a time: later requests wait, so answers keep their order.
      session.storeWaiting.add(frame);
      session.drain();
      return;
    }
    process(session, frame);
  }

  private void process(Session session, NameClientFrame frame) {
    long requestId = frame.getRequestId();
    try {
      if (requestId != 0 && !session.rate.tryAcquire(System.nanoTime())) {
        session.respond(
            Replies.error(
                requestId,
                StatusCode.RESOURCE_EXHAUSTED,
                "this session sent more than "
                    + config.maxRequestsPerSecond()
                    + " requests a second, the name server's limit; this one was refused and"
                    + " changed nothing"));
      } else if (requestId == 0) {
        closeWith(
            session,
            Replies.error(
                0,
                StatusCode.INVALID_ARGUMENT,
                "request_id 0 is reserved (expected: a non-zero id unique among requests in"
                    + " flight); closing the connection"));
      } else if (!session.opened) {
        if (frame.getBodyCase() == NameClientFrame.BodyCase.HEALTH_CHECK) {
          healthCheck(session, requestId);
        } else if (frame.getBodyCase() == NameClientFrame.BodyCase.OPEN_SESSION) {
          openSession(session, requestId, frame.getOpenSession());
        } else {
          closeWith(
              session,
              Replies.error(
                  requestId,
                  StatusCode.FAILED_PRECONDITION,
                  "the first frame of a session must be OpenSession, not "
                      + bodyName(frame)
                      + "; closing the connection"));
        }
      } else {
        dispatch(session, requestId, frame);
      }
    } catch (RuntimeException e) {
      log.error("{} request {} ({}) failed", session, requestId, bodyName(frame), e);
      session.respond(Replies.error(requestId, StatusCode.INTERNAL, "internal error: " + e));
    }
    session.drain();
  }

  private void dispatch(Session session, long requestId, NameClientFrame frame) {
    if (session.principal != null) {
      String denied = Access.denied(session.principal, session.appId, frame);
      if (denied != null) {
        session.respond(Replies.error(requestId, StatusCode.PERMISSION_DENIED, denied));
        return;
      }
    }
    switch (frame.getBodyCase()) {
      case OPEN_SESSION ->
          session.respond(
              Replies.error(
                  requestId,
                  StatusCode.FAILED_PRECONDITION,
                  "the session is already open (id " + session.id + ")"));
      case KEEP_ALIVE -> {
        if (session.storeSession != null) {
          session.storeSession.keptAlive();
        }
        session.respond(Replies.ack(requestId, current()));
      }
      case REGISTER -> register(session, requestId, frame.getRegister());
      case DEREGISTER -> deregister(session, requestId, frame.getDeregister());
      case SET_ATTRIBUTES -> setAttributes(session, requestId, frame.getSetAttributes());
      case WATCH -> watch(session, requestId, frame.getWatch());
      case UNWATCH -> unwatch(session, requestId, frame.getUnwatch());
      case CLEAR_SERVICES -> clearServices(session, requestId, frame.getClearServices());
      case CAMPAIGN -> campaign(session, requestId, frame.getCampaign());
      case RESIGN -> resign(session, requestId, frame.getResign());
      case KV_GET -> kvGet(session, requestId, frame.getKvGet());
      case KV_PUT -> kvPut(session, requestId, frame.getKvPut());
      case KV_DELETE -> kvDelete(session, requestId, frame.getKvDelete());
      case KV_LIST -> kvList(session, requestId, frame.getKvList());
      case KV_WATCH -> kvWatch(session, requestId, frame.getKvWatch());
      case HEALTH_CHECK -> healthCheck(session, requestId);
      case ISSUE_TICKET -> issueTicket(session, requestId, frame.getIssueTicket());
      case BODY_NOT_SET -> {
        if (frame.getUnknownFields().asMap().isEmpty()) {
          session.respond(
              Replies.error(
                  requestId, StatusCode.INVALID_ARGUMENT, "the frame has no request body"));
        } else {
          session.respond(
              Replies.error(
                  requestId,
                  StatusCode.UNIMPLEMENTED,
                  "unknown request (field "
                      + frame.getUnknownFields().asMap().keySet()
                      + "); this server speaks protocol version "
                      + PROTOCOL_VERSION));
        }
      }
    }
  }

  private void openSession(Session session, long requestId, OpenSession open) {
    if (open.getProtocolVersion() != PROTOCOL_VERSION) {
      closeWith(
          session,
          Replies.error(
              requestId,
              StatusCode.FAILED_PRECONDITION,
              "protocol_version "
                  + Integer.toUnsignedString(open.getProtocolVersion())
                  + " is not spoken here (expected: "
                  + PROTOCOL_VERSION
                  + ")"));
      return;
    }
    if (!APP_ID.matcher(open.getAppId()).matches()) {
      closeWith(
          session,
          Replies.error(
              requestId,
              StatusCode.INVALID_ARGUMENT,
              "app_id " + Access.quote(open.getAppId()) + " must be 1 to 64 of [A-Za-z0-9_-]"));
      return;
    }
    if (!access.open()) {
      Principal principal = access.authenticate(open.getToken());
      if (principal == null) {
        closeWith(
            session,
            Replies.error(
                requestId,
                StatusCode.UNAUTHENTICATED,
                open.getToken().isEmpty()
                    ? "this name server requires a token (OpenSession.token)"
                    : "the token is not known to this name server"));
        return;
      }
      String denied = Access.deniedSession(principal, open.getAppId());
      if (denied != null) {
        closeWith(session, Replies.error(requestId, StatusCode.PERMISSION_DENIED, denied));
        return;
      }
      int held = 0;
      for (Session other : instances.sessions()) {
        if (other.opened && other.principal == principal) {
          held++;
        }
      }
      if (held >= config.maxSessionsPerPrincipal()) {
        closeWith(
            session,
            Replies.error(
                requestId,
                StatusCode.RESOURCE_EXHAUSTED,
                principal.name()
                    + " has "
                    + held
                    + " open sessions, the name server's limit per principal"));
        return;
      }
      session.principal = principal;
    }
    long ttlMillis = config.grantTtlMillis(open.getTtlMillis());
    if (store != null) {
      openStoreSession(session, requestId, open, ttlMillis);
      return;
    }
    session.opened = true;
    session.appId = open.getAppId();
    session.ttlNanos = TimeUnit.MILLISECONDS.toNanos(ttlMillis);
    instances.opened();
    if (session.expiryCheck != null) {
      session.expiryCheck.dispose();
    }
    scheduleExpiryCheck(session, session.ttlNanos);
    session.respond(
        Replies.ack(
            Ack.newBuilder()
                .setRequestId(requestId)
                .setRevision(revisions.current())
                .setSessionOpened(
                    SessionOpened.newBuilder()
                        .setSessionId(session.id)
                        .setTtlMillis((int) ttlMillis))));
    log.debug("{} opened, TTL {} ms", session, ttlMillis);
  }

  private void register(Session session, long requestId, Register request) {
    if (!request.hasInstance()) {
      invalid(session, requestId, "Register.instance is missing");
      return;
    }
    Instance instance = request.getInstance();
    ServiceUrl url;
    try {
      url = ServiceUrl.parse(instance.getUrl());
    } catch (IllegalArgumentException e) {
      invalid(session, requestId, e.getMessage());
      return;
    }
    String key = url.toString();
    if (!url.appId().equals(session.appId)) {
      session.respond(
          Replies.error(
              requestId,
              StatusCode.PERMISSION_DENIED,
              "a session of app \""
                  + session.appId
                  + "\" may not register "
                  + key
                  + " of app \""
                  + url.appId()
                  + "\""));
      return;
    }
    if (instance.getSerializedSize() > config.maxInstanceSize()) {
      invalid(
          session,
          requestId,
          "instance "
              + key
              + " is "
              + instance.getSerializedSize()
              + " bytes (url, address, attributes), over the name server's maximum instance size"
              + " of "
              + config.maxInstanceSize()
              + " bytes; nothing was registered");
      return;
    }
    if (instance.getAttributesCount() > NameServerConfig.MAX_ATTRIBUTES) {
      invalid(
          session,
          requestId,
          "instance "
              + key
              + " has "
              + instance.getAttributesCount()
              + " attributes, over the name server's maximum of "
              + NameServerConfig.MAX_ATTRIBUTES
              + "; nothing was registered");
      return;
    }
    String addressProblem = checkAddress(instance.getAddress());
    if (addressProblem != null) {
      invalid(
          session,
          requestId,
          "Invalid address "
              + Access.quote(instance.getAddress())
              + " of "
              + key
              + ": "
              + addressProblem);
      return;
    }
    if (store != null) {
      String service = url.serviceName().toString();
      storeCall(
          session,
          requestId,
          session.storeSession.register(instance.toBuilder().setUrl(key).build()),
          "",
          changed -> ackAfterOwnWatches(session, requestId, changed, instanceWatchOf(service)));
      return;
    }
    InstanceTable.Live existing = instances.get(key);
    if (existing != null && existing.owner() != session) {
      session.respond(
          Replies.error(
              requestId,
              StatusCode.ALREADY_EXISTS,
              key
                  + " is already registered by another live session ("
                  + existing.owner().id()
                  + "); it is free again once that session deregisters it, closes or expires"));
      return;
    }
    long changed = instances.register(session, key, url.serviceName().toString(), instance);
    session.respond(Replies.ack(requestId, changed));
  }

  private void deregister(Session session, long requestId, Deregister request) {
    String key = heldBy(session, requestId, request.getUrl());
    if (key == null) {
      return;
    }
    if (store != null) {
      storeCall(
          session,
          requestId,
          session.storeSession.deregister(key),
          "",
          changed ->
              ackAfterOwnWatches(session, requestId, changed, instanceWatchOf(serviceOf(key))));
      return;
    }
    long changed = instances.remove(key, "deregistered");
    // Sent after the removal is applied and announced, so a client shutting down gracefully knows
    // the name server has it.
    session.respond(Replies.ack(requestId, changed));
  }

  private void setAttributes(Session session, long requestId, SetAttributes request) {
    String key = heldBy(session, requestId, request.getUrl());
    if (key == null) {
      return;
    }
    InstanceTable.Live live = store == null ? instances.get(key) : null;
    // Over a store the instance is not here to merge with: the request alone is checked (etcd
    // refuses a value over its own request limit, 1.5 MiB by default).
    long size =
        live == null
            ? request.getSerializedSize()
            : (request.getMerge() ? live.instance().getSerializedSize() : 0)
                + request.getSerializedSize();
    if (size > config.maxInstanceSize()) {
      invalid(
          session,
          requestId,
          "instance "
              + key
              + " would be about "
              + size
              + " bytes with these attributes, over the name server's maximum instance size of "
              + config.maxInstanceSize()
              + " bytes; nothing was changed");
      return;
    }
    int count = request.getAttributesCount();
    if (live != null && request.getMerge()) {
      for (String name : live.instance().getAttributesMap().keySet()) {
        if (!request.containsAttributes(name)) {
          count++;
        }
      }
    }
    if (count > NameServerConfig.MAX_ATTRIBUTES) {
      invalid(
          session,
          requestId,
          "instance "
              + key
              + " would have "
              + count
              + " attributes, over the name server's maximum of "
              + NameServerConfig.MAX_ATTRIBUTES
              + "; nothing was changed");
      return;
    }
    if (store != null) {
      storeCall(
          session,
          requestId,
          session.storeSession.setAttributes(key, request.getAttributesMap(), request.getMerge()),
          "",
          changed ->
              ackAfterOwnWatches(session, requestId, changed, instanceWatchOf(serviceOf(key))));
      return;
    }
    long changed = instances.setAttributes(key, request.getAttributesMap(), request.getMerge());
    session.respond(Replies.ack(requestId, changed));
  }

  private void watch(Session session, long requestId, Watch request) {
    long watchId = request.getWatchId();
    if (!watchIdFree(session, requestId, watchId)) {
      return;
    }
    String serviceName = null;
    String prefix = null;
    switch (request.getTargetCase()) {
      case SERVICE_NAME -> {
        try {
          serviceName = ServiceName.parse(request.getServiceName()).toString();
        } catch (IllegalArgumentException e) {
          invalid(session, requestId, e.getMessage());
          return;
        }
      }
      case PREFIX -> {
        prefix = request.getPrefix();
        if (prefix.indexOf('/') >= 0) {
          invalid(
              session,
              requestId,
              "prefix "
                  + Access.quote(prefix)
                  + " is a ServiceName prefix and may not contain '/'");
          return;
        }
      }
      case TARGET_NOT_SET -> {
        invalid(session, requestId, "Watch needs a service_name or a prefix (empty: everything)");
        return;
      }
    }
    long from = request.getFromRevision();
    startWatch(
        session, requestId, WatchState.instances(session, watchId, serviceName, prefix, from));
  }

  /** Whether {@code watchId} may start a watch; if not, answers the error. */
  private boolean watchIdFree(Session session, long requestId, long watchId) {
    if (watchId == 0) {
      invalid(session, requestId, "watch_id 0 is reserved (expected: a non-zero id)");
      return false;
    }
    if (session.watches.size() >= config.maxWatchesPerSession()) {
      session.respond(
          Replies.error(
              requestId,
              StatusCode.RESOURCE_EXHAUSTED,
              "this session has "
                  + session.watches.size()
                  + " watches, the name server's limit per session; unwatch one first"));
      return false;
    }
    if (session.watches.containsKey(watchId)) {
      session.respond(
          Replies.error(
              requestId,
              StatusCode.ALREADY_EXISTS,
              "watch_id " + Long.toUnsignedString(watchId) + " is already in use on this session"));
      return false;
    }
    return true;
  }

  /** Indexes and answers a new watch, then sends its snapshot or the history it resumes from. */
  private void startWatch(Session session, long requestId, WatchState watch) {
    if (store != null) {
      watch.store = true;
      session.watches.put(watch.id, watch);
      if (watch.fromRevision == 0) {
        // Answered with the snapshot's revision, just before the snapshot, as the embedded path
        // does; the session's later requests wait for it.
        watch.storeAckRequestId = requestId;
        session.storeBusy = true;
      } else {
        // A resumed watch may see no change for a long time: answered now.
        session.respond(Replies.ack(requestId, current()));
      }
      resumeStoreWatch(session, watch);
      return;
    }
    watches.add(watch);
    session.watches.put(watch.id, watch);
    session.respond(Replies.ack(requestId, revisions.current()));
    watches.catchUp(watch, revisions.current());
  }

  private void unwatch(Session session, long requestId, Unwatch request) {
    WatchState watch = session.watches.remove(request.getWatchId());
    if (watch != null) {
      if (watch.store) {
        cancelStoreWatch(watch);
      } else {
        watches.remove(watch);
      }
      session.dropWatch(watch);
    }
    session.respond(Replies.ack(requestId, current()));
  }

  private void clearServices(Session session, long requestId, ClearServices request) {
    String prefix = request.getPrefix();
    if (store != null) {
      storeCall(
          session,
          requestId,
          store.clearServices(prefix),
          "",
          counted -> {
            if (counted.count() > 0) {
              log.info("{} cleared {} instance(s) under \"{}\"", session, counted.count(), prefix);
            }
            finishCall(session, countAck(requestId, counted));
          });
      return;
    }
    int cleared = instances.removeStartingWith(prefix, "cleared");
    if (cleared > 0) {
      log.info("{} cleared {} instance(s) under \"{}\"", session, cleared, prefix);
    }
    session.respond(
        Replies.ack(
            Ack.newBuilder()
                .setRequestId(requestId)
                .setRevision(revisions.current())
                .setCount(cleared)));
  }

  // ---------------------------------------------------------------------------------------------
  // Elections.

  private void campaign(Session session, long requestId, Campaign request) {
    String key =
        heldBy(
            session,
            requestId,
            request.getUrl(),
            "; only an instance this session registered may campaign (register it first)");
    if (key == null) {
      return;
    }
    if (store != null) {
      storeCall(
          session,
          requestId,
          session.storeSession.campaign(key),
          "; only an instance this session registered may campaign (register it first)",
          changed -> finishCall(session, Replies.ack(requestId, changed)));
      return;
    }
    // Campaigning again is a no-op: the candidate keeps its place in the line.
    session.respond(Replies.ack(requestId, elections.campaign(key)));
  }

  private void resign(Session session, long requestId, Resign request) {
    String key = heldBy(session, requestId, request.getUrl());
    if (key == null) {
      return;
    }
    if (store != null) {
      storeCall(
          session,
          requestId,
          session.storeSession.resign(key),
          "",
          changed -> finishCall(session, Replies.ack(requestId, changed)));
      return;
    }
    elections.leave(key);
    session.respond(Replies.ack(requestId, revisions.current()));
  }

  /** Answers a HealthCheck, with or without a session: Ack when the store (if any) answers. */
  private void healthCheck(Session session, long requestId) {
    if (store == null) {
      session.respond(Replies.ack(requestId, current()));
      return;
    }
    storeCall(
        session,
        requestId,
        checkStore().thenReturn(Boolean.TRUE),
        "",
        serving -> finishCall(session, Replies.ack(requestId, current())));
  }

  /**
   * Signs a peer ticket for the session's app and the holder key the client sent. Needs no state
   * and no store: any node of a name service issues tickets, with the key they share.
   */
  private void issueTicket(Session session, long requestId, IssueTicket request) {
    try {
      Tickets.decodeKey(request.getHolderKey());
    } catch (Tickets.InvalidTicketException e) {
      invalid(session, requestId, "IssueTicket.holder_key: " + e.getMessage());
      return;
    }
    long now = System.currentTimeMillis();
    TicketClaims claims =
        TicketClaims.newBuilder()
            .setAppId(session.appId)
            .setHolderKey(request.getHolderKey())
            .setIssuedAtMillis(now)
            .setExpiresAtMillis(now + config.ticketLifetime().toMillis())
            .setSessionId(session.id)
            .build();
    session.respond(
        Replies.ack(
            Ack.newBuilder()
                .setRequestId(requestId)
                .setRevision(current())
                .setTicketIssued(
                    TicketIssued.newBuilder()
                        .setTicket(Tickets.sign(claims, ticketKey.getPrivate()))
                        .setIssuerKey(issuerKey))));
  }

  // ---------------------------------------------------------------------------------------------
  // KV config.

  private void kvGet(Session session, long requestId, KvGet request) {
    String key = request.getKey();
    if (!validKey(session, requestId, key)) {
      return;
    }
    if (store != null) {
      storeCall(
          session,
          requestId,
          store.kvGet(key),
          "",
          read -> {
            KvGetResult.Builder found =
                KvGetResult.newBuilder().setFound(!read.entries().isEmpty());
            if (!read.entries().isEmpty()) {
              found.setEntry(read.entries().get(0));
            }
            finishCall(
                session,
                Replies.ack(
                    Ack.newBuilder()
                        .setRequestId(requestId)
                        .setRevision(read.revision())
                        .setKvGet(found)));
          });
      return;
    }
    KvEntry entry = kv.get(key);
    KvGetResult.Builder result = KvGetResult.newBuilder().setFound(entry != null);
    if (entry != null) {
      result.setEntry(entry);
    }
    session.respond(
        Replies.ack(
            Ack.newBuilder()
                .setRequestId(requestId)
                .setRevision(revisions.current())
                .setKvGet(result)));
  }

  private void kvPut(Session session, long requestId, KvPut request) {
    String key = request.getKey();
    if (!validKey(session, requestId, key)) {
      return;
    }
    int size = request.getValue().size();
    if (size > config.maxValueSize()) {
      invalid(
          session,
          requestId,
          "the value of key \""
              + key
              + "\" is "
              + size
              + " bytes, over the name server's maximum value size of "
              + config.maxValueSize()
              + " bytes; nothing was written");
      return;
    }
    if (store != null) {
      storeCall(
          session,
          requestId,
          store.kvPut(
              key,
              request.getValue(),
              request.hasExpectedModRevision()
                  ? OptionalLong.of(request.getExpectedModRevision())
                  : OptionalLong.empty()),
          "",
          changed -> ackAfterOwnWatches(session, requestId, changed, kvWatchOf(key)));
      return;
    }
    if (logFailed(session, requestId)) {
      return;
    }
    KvEntry existing = kv.get(key);
    if (request.hasExpectedModRevision()
        && !compareHolds(
            session, requestId, "put", key, existing, request.getExpectedModRevision())) {
      return;
    }
    KvSpace.Written written = kv.put(key, request.getValue());
    respondWhenWritten(session, Replies.ack(requestId, written.revision()), written.seq());
    snapshotIfDue();
  }

  private void kvDelete(Session session, long requestId, KvDelete request) {
    String key = request.getKey();
    if (request.getPrefix()) {
      if (request.hasExpectedModRevision()) {
        invalid(
            session,
            requestId,
            "expected_mod_revision compares one key; it cannot be used with prefix = true");
        return;
      }
      if (!validPrefix(session, requestId, key)) {
        return;
      }
      if (store != null) {
        storeCall(
            session,
            requestId,
            store.kvDeletePrefix(key),
            "",
            counted -> finishCall(session, countAck(requestId, counted)));
        return;
      }
      if (logFailed(session, requestId)) {
        return;
      }
      KvSpace.Deleted deleted = kv.deleteStartingWith(key);
      respondWhenWritten(
          session,
          Replies.ack(
              Ack.newBuilder()
                  .setRequestId(requestId)
                  .setRevision(revisions.current())
                  .setCount(deleted.count())),
          deleted.seq());
      snapshotIfDue();
      return;
    }
    if (!validKey(session, requestId, key)) {
      return;
    }
    if (store != null) {
      storeCall(
          session,
          requestId,
          store.kvDelete(
              key,
              request.hasExpectedModRevision()
                  ? OptionalLong.of(request.getExpectedModRevision())
                  : OptionalLong.empty()),
          "",
          counted -> {
            if (counted.count() > 0) {
              holdUntilSeen(
                  session, countAck(requestId, counted), counted.revision(), kvWatchOf(key));
            } else {
              finishCall(session, countAck(requestId, counted));
            }
          });
      return;
    }
    if (logFailed(session, requestId)) {
      return;
    }
    KvEntry existing = kv.get(key);
    if (request.hasExpectedModRevision()
        && !compareHolds(
            session, requestId, "delete", key, existing, request.getExpectedModRevision())) {
      return;
    }
    // Exactly this key: "a" never takes "ab" with it.
    long seq = 0;
    if (existing != null) {
      seq = kv.delete(key).seq();
    }
    respondWhenWritten(
        session,
        Replies.ack(
            Ack.newBuilder()
                .setRequestId(requestId)
                .setRevision(revisions.current())
                .setCount(existing == null ? 0 : 1)),
        seq);
    snapshotIfDue();
  }

  private void kvList(Session session, long requestId, KvList request) {
    String prefix = request.getPrefix();
    if (!validPrefix(session, requestId, prefix)) {
      return;
    }
    if (store != null) {
      storeCall(
          session,
          requestId,
          store.kvList(prefix),
          "",
          read ->
              finishCall(
                  session,
                  Replies.ack(
                      Ack.newBuilder()
                          .setRequestId(requestId)
                          .setRevision(read.revision())
                          .setKvList(KvListResult.newBuilder().addAllEntries(read.entries())))));
      return;
    }
    KvListResult.Builder result = KvListResult.newBuilder().addAllEntries(kv.list(prefix));
    session.respond(
        Replies.ack(
            Ack.newBuilder()
                .setRequestId(requestId)
                .setRevision(revisions.current())
                .setKvList(result)));
  }

  private void kvWatch(Session session, long requestId, KvWatch request) {
    long watchId = request.getWatchId();
    if (!watchIdFree(session, requestId, watchId)
        || !validPrefix(session, requestId, request.getPrefix())) {
      return;
    }
    startWatch(
        session,
        requestId,
        WatchState.kv(session, watchId, request.getPrefix(), request.getFromRevision()));
  }

  /** Whether a compare of {@code key}'s mod revision holds; if not, answers the error. */
  private boolean compareHolds(
      Session session, long requestId, String verb, String key, KvEntry existing, long expected) {
    long actual = existing == null ? 0 : existing.getModRevision();
    if (actual == expected) {
      return true;
    }
    session.respond(
        Replies.error(
            requestId,
            StatusCode.FAILED_PRECONDITION,
            "compare-and-"
                + verb
                + " of key \""
                + key
                + "\" failed: expected mod_revision "
                + Long.toUnsignedString(expected)
                + (expected == 0 ? " (absent)" : "")
                + ", but the key "
                + (existing == null
                    ? "does not exist"
                    : "has mod_revision " + Long.toUnsignedString(actual))
                + "; current revision "
                + revisions.current()));
    return false;
  }

  private static boolean validKey(Session session, long requestId, String key) {
    if (key.isEmpty()) {
      invalid(session, requestId, "the key is empty (expected: 1.." + maxKey() + " characters)");
      return false;
    }
    return validPrefix(session, requestId, key);
  }

  private static boolean validPrefix(Session session, long requestId, String prefix) {
    if (prefix.length() > NameServerConfig.MAX_KEY_LENGTH) {
      invalid(
          session,
          requestId,
          "the key of "
              + prefix.length()
              + " characters is too long (expected: at most "
              + maxKey()
              + ")");
      return false;
    }
    return true;
  }

  private static int maxKey() {
    return NameServerConfig.MAX_KEY_LENGTH;
  }

  // ---------------------------------------------------------------------------------------------
  // The data directory.

  /** Whether KV writes are refused because the data directory failed; if so, answers the error. */
  private boolean logFailed(Session session, long requestId) {
    if (logFailed) {
      session.respond(
          Replies.error(
              requestId,
              StatusCode.UNAVAILABLE,
              "the name server's data directory failed (see its log); KV writes are refused"));
    }
    return logFailed;
  }

  /** Sends {@code answer} once the log has written record {@code seq}, or now without a log. */
  private void respondWhenWritten(Session session, NameServerFrame answer, long seq) {
    if (seq == 0) {
      session.respond(answer);
      return;
    }
    session.respondWhenWritten(answer, seq);
    waitingForLog.add(session);
  }

  /** The log thread has written every record up to {@code seq} (-1: it failed). */
  private void logWritten(long seq) {
    if (seq < 0) {
      logFailed = true;
    }
    for (Session session : waitingForLog) {
      if (seq < 0) {
        session.failWhenWritten(
            "the change was applied in memory but the data directory failed before it was"
                + " written; it is lost at the next restart");
      } else {
        session.releaseWritten(seq);
      }
      session.drain();
    }
    waitingForLog.removeIf(session -> !session.waitsForLog());
  }

  /** Writes a snapshot and starts a new log once the log has grown past its bound. */
  private void snapshotIfDue() {
    if (dataLog != null && dataLog.grownPast(config.snapshotLogBytes())) {
      dataLog.snapshot(
          new DataLog.Snapshot(
              revisions.current(), revisions.ceiling(), elections.termCeiling(), kv.copy()));
    }
  }

  /** Any thread, blocking: writes what is left of the log and closes it. */
  void closeLog() {
    if (dataLog != null) {
      dataLog.close();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Driving a NameStore. Every request is checked above, exactly as for the embedded parts; what
  // follows runs the checked request against the store. A session has one store call in flight at
  // a time (later requests wait in storeWaiting), and a change's Ack waits until the session's own
  // watches that concern it have queued its revision, so answers and events keep the embedded
  // order. Store signals arrive on any thread and are moved to the writer.

  /** The result of OpenSession against the store. */
  private record StoreOpened(StoreSession session, boolean resumed) {}

  private void openStoreSession(Session session, long requestId, OpenSession open, long ttlMillis) {
    String appId = open.getAppId();
    Duration ttl = Duration.ofMillis(ttlMillis);
    Mono<StoreOpened> fresh =
        Mono.defer(() -> store.openSession(appId, ttl))
            .map(opened -> new StoreOpened(opened, false));
    String resumeId = open.getResumeSessionId();
    Mono<StoreOpened> call =
        resumeId.isEmpty() || !store.resumable()
            ? fresh
            : store
                .resume(resumeId, appId)
                .map(resumed -> new StoreOpened(resumed, true))
                .switchIfEmpty(fresh);
    session.storeBusy = true;
    session.storeInFlight = true;
    call.switchIfEmpty(Mono.error(() -> noAnswer("OpenSession")))
        .subscribe(
            opened ->
                executor.execute(() -> storeOpened(session, requestId, appId, opened, ttlMillis)),
            error ->
                executor.execute(
                    () -> {
                      session.storeInFlight = false;
                      if (session.ended || session.closing) {
                        return;
                      }
                      closeWith(session, storeError(session, requestId, error, ""));
                    }));
  }

  private void storeOpened(
      Session session, long requestId, String appId, StoreOpened opened, long ttlMillis) {
    session.storeInFlight = false;
    StoreSession held = opened.session();
    if (session.ended || session.closing) {
      // The connection went while the store opened it: the client may still resume it.
      held.detach().subscribe(null, error -> log.warn("{} could not be detached", held, error));
      return;
    }
    session.storeSession = held;
    session.opened = true;
    session.appId = appId;
    session.id = held.id();
    session.ttlNanos = TimeUnit.MILLISECONDS.toNanos(ttlMillis);
    instances.opened();
    if (session.expiryCheck != null) {
      session.expiryCheck.dispose();
    }
    scheduleExpiryCheck(session, session.ttlNanos);
    session.storeEnded =
        held.ended()
            .subscribe(
                reason -> executor.execute(() -> storeEnded(session, held, reason)),
                error -> log.warn("{} lost track of its store session", session, error));
    log.debug("{} {}, TTL {} ms", session, opened.resumed() ? "resumed" : "opened", ttlMillis);
    finishCall(
        session,
        Replies.ack(
            Ack.newBuilder()
                .setRequestId(requestId)
                .setRevision(current())
                .setSessionOpened(
                    SessionOpened.newBuilder()
                        .setSessionId(held.id())
                        .setTtlMillis((int) ttlMillis)
                        .setResumed(opened.resumed()))));
  }

  /**
   * Runs one store call of {@code session}; later requests of the session wait for it. {@code
   * onValue} answers (with {@link #finishCall} or {@link #holdUntilSeen}); a refusal is answered
   * with the store's status and message ({@code notFoundHint} appended to a NOT_FOUND).
   */
  private <T> void storeCall(
      Session session, long requestId, Mono<T> call, String notFoundHint, Consumer<T> onValue) {
    session.storeBusy = true;
    session.storeInFlight = true;
    call.switchIfEmpty(Mono.error(() -> noAnswer("request " + requestId)))
        .subscribe(
            value -> executor.execute(() -> storeAnswered(session, () -> onValue.accept(value))),
            error ->
                executor.execute(
                    () ->
                        storeAnswered(
                            session,
                            () ->
                                finishCall(
                                    session,
                                    storeError(session, requestId, error, notFoundHint)))));
  }

  private void storeAnswered(Session session, Runnable answer) {
    session.storeInFlight = false;
    if (session.ended || session.closing) {
      // The session ended while the call ran; its end waited for the call.
      Runnable end = session.storeAfterCall;
      session.storeAfterCall = null;
      if (end != null) {
        end.run();
      }
      return;
    }
    answer.run();
  }

  private static NameStoreException noAnswer(String what) {
    return new NameStoreException(StatusCode.INTERNAL, "the store gave no answer to " + what);
  }

  private NameServerFrame storeError(
      Session session, long requestId, Throwable error, String notFoundHint) {
    if (error instanceof NameStoreException refused) {
      return Replies.error(
          requestId,
          refused.code(),
          refused.getMessage() + (refused.code() == StatusCode.NOT_FOUND ? notFoundHint : ""));
    }
    log.warn("{} request {} failed in the store", session, requestId, error);
    return Replies.error(requestId, StatusCode.INTERNAL, "the store failed: " + error);
  }

  /** Answers the session's store call and goes on with the requests that waited for it. */
  private void finishCall(Session session, NameServerFrame answer) {
    session.storeBusy = false;
    session.respond(answer);
    processWaiting(session);
  }

  /** Processes the requests that waited for the session's store call, until one makes another. */
  private void processWaiting(Session session) {
    while (!session.storeBusy && !session.ended && !session.closing) {
      NameClientFrame next = session.storeWaiting.poll();
      if (next == null) {
        break;
      }
      process(session, next);
    }
    session.drain();
  }

  private void ackAfterOwnWatches(
      Session session, long requestId, long revision, Predicate<WatchState> concerned) {
    holdUntilSeen(session, Replies.ack(requestId, revision), revision, concerned);
  }

  /**
   * Holds a change's answer until every watch of the session that the change concerns has queued
   * its revision (or waits to resume from the store, which then includes it).
   */
  private void holdUntilSeen(
      Session session, NameServerFrame answer, long revision, Predicate<WatchState> concerned) {
    session.heldAck = answer;
    session.heldRevision = revision;
    session.heldFor = concerned;
    releaseIfSeen(session);
  }

  private void releaseIfSeen(Session session) {
    if (session.heldAck == null) {
      return;
    }
    for (WatchState watch : session.watches.values()) {
      if (!watch.pendingSnapshot
          && watch.delivered < session.heldRevision
          && session.heldFor.test(watch)) {
        return;
      }
    }
    NameServerFrame answer = session.heldAck;
    session.heldAck = null;
    session.heldFor = null;
    finishCall(session, answer);
  }

  private static Predicate<WatchState> instanceWatchOf(String serviceName) {
    return watch -> !watch.kv && watch.matches(serviceName);
  }

  private static Predicate<WatchState> kvWatchOf(String key) {
    return watch -> watch.kv && watch.matches(key);
  }

  private static String serviceOf(String canonicalUrl) {
    return ServiceUrl.parse(canonicalUrl).serviceName().toString();
  }

  private static NameServerFrame countAck(long requestId, Counted counted) {
    return Replies.ack(
        Ack.newBuilder()
            .setRequestId(requestId)
            .setRevision(counted.revision())
            .setCount(counted.count()));
  }

  /**
   * Subscribes a session's watch to the store: from where the client resumed, or, after it fell
   * behind, from the last revision queued for it (the store replays the rest, or resyncs).
   */
  void resumeStoreWatch(Session session, WatchState watch) {
    long from = watch.delivered > 0 ? watch.delivered : watch.fromRevision;
    int generation = ++watch.storeGeneration;
    if (watch.kv) {
      watch.storeSubscription =
          store
              .watchKv(watch.prefix, from)
              .subscribe(
                  event ->
                      executor.execute(
                          () -> {
                            if (live(session, watch, generation)) {
                              long answered = answerWatch(session, watch, event.getRevision());
                              session.offerEvent(watch, SharedEvent.of(event));
                              delivered(session, watch, event.getRevision(), answered);
                            }
                          }),
                  error ->
                      executor.execute(() -> storeWatchFailed(session, watch, generation, error)));
    } else {
      ServiceSelector selector =
          watch.serviceName != null
              ? ServiceSelector.service(watch.serviceName)
              : ServiceSelector.prefix(watch.prefix);
      watch.storeSubscription =
          store
              .watch(selector, from)
              .subscribe(
                  event ->
                      executor.execute(
                          () -> {
                            if (live(session, watch, generation)) {
                              long answered = answerWatch(session, watch, event.getRevision());
                              session.offerEvent(watch, SharedEvent.of(event));
                              delivered(session, watch, event.getRevision(), answered);
                            }
                          }),
                  error ->
                      executor.execute(() -> storeWatchFailed(session, watch, generation, error)));
    }
  }

  /** Cancels a watch's subscription to the store; its later signals are ignored. */
  void cancelStoreWatch(WatchState watch) {
    watch.storeGeneration++;
    if (watch.storeSubscription != null) {
      watch.storeSubscription.dispose();
      watch.storeSubscription = null;
    }
  }

  private static boolean live(Session session, WatchState watch, int generation) {
    return generation == watch.storeGeneration
        && !session.ended
        && !session.closing
        && session.watches.get(watch.id) == watch;
  }

  /** Queues the Watch request's Ack before the watch's first signal; gives its request id, or 0. */
  private static long answerWatch(Session session, WatchState watch, long revision) {
    long requestId = watch.storeAckRequestId;
    if (requestId != 0) {
      watch.storeAckRequestId = 0;
      session.storeBusy = false;
      session.respond(Replies.ack(requestId, revision));
    }
    return requestId;
  }

  private void delivered(Session session, WatchState watch, long revision, long answered) {
    if (!watch.pendingSnapshot) {
      watch.delivered = revision;
    }
    if (answered != 0) {
      processWaiting(session);
    } else {
      releaseIfSeen(session);
    }
  }

  private void storeWatchFailed(
      Session session, WatchState watch, int generation, Throwable error) {
    if (!live(session, watch, generation)) {
      return;
    }
    log.warn("{} watch {} of {} failed in the store", session, watch.id, watch.target(), error);
    closeWith(
        session,
        Replies.error(
            0,
            StatusCode.UNAVAILABLE,
            "watch "
                + Long.toUnsignedString(watch.id)
                + " of "
                + watch.target()
                + " failed in the store ("
                + error.getMessage()
                + "); closing the connection: resume the session and watch again from the last"
                + " revision"));
  }

  /**
   * The store ended the session on its own (lease lost, resumed elsewhere): closes the connection.
   */
  private void storeEnded(Session session, StoreSession held, String reason) {
    if (session.storeSession != held || session.ended || session.closing) {
      return;
    }
    log.info("{} ended by the store: {}", session, reason);
    session.storeSession = null;
    closeWith(
        session,
        Replies.error(
            0,
            reason.contains("expired")
                ? StatusCode.DEADLINE_EXCEEDED
                : StatusCode.FAILED_PRECONDITION,
            "session " + session.id + " ended: " + reason + "; closing the connection"));
  }

  /**
   * Ends a session's side on this node: cancels its watches and closes its store session with
   * {@code reason}, or detaches it ({@code reason} null: the client may resume it elsewhere). A
   * store call still in flight finishes first, as the store sees one call per session at a time.
   */
  private void endStoreSide(Session session, String reason) {
    session.ended = true;
    if (session.opened) {
      instances.ended();
    }
    if (session.expiryCheck != null) {
      session.expiryCheck.dispose();
    }
    for (WatchState watch : session.watches.values()) {
      cancelStoreWatch(watch);
      session.dropWatch(watch);
    }
    session.watches.clear();
    session.storeWaiting.clear();
    session.heldAck = null;
    session.heldFor = null;
    if (session.storeEnded != null) {
      session.storeEnded.dispose();
    }
    StoreSession held = session.storeSession;
    session.storeSession = null;
    if (held != null) {
      Runnable end =
          () ->
              (reason == null ? held.detach() : held.close(reason))
                  .subscribe(
                      null,
                      error ->
                          log.warn(
                              "{} could not be {} in the store",
                              session,
                              reason == null ? "detached" : "closed",
                              error));
      if (session.storeInFlight) {
        session.storeAfterCall = end;
      } else {
        end.run();
      }
    }
    if (session.opened) {
      log.debug("{} ended: {}", session, reason == null ? "connection closed, detached" : reason);
    }
  }

  /** Any thread. Closes the store, if the server drives one. */
  Mono<Void> closeStore() {
    return store == null ? Mono.empty() : store.close();
  }

  // ---------------------------------------------------------------------------------------------
  // Snapshots and queue accounting, for sessions.

  /** The snapshot frame of a watch, at the current revision. */
  NameServerFrame snapshotFrame(WatchState watch) {
    if (watch.kv) {
      KvSnapshot snapshot =
          KvSnapshot.newBuilder()
              .setResync(watch.snapshotIsResync())
              .addAllEntries(kv.list(watch.prefix))
              .build();
      return NameServerFrame.newBuilder()
          .setKvWatchEvent(
              KvWatchEvent.newBuilder()
                  .setWatchId(watch.id)
                  .setRevision(revisions.current())
                  .setSnapshot(snapshot))
          .build();
    }
    Snapshot.Builder snapshot = Snapshot.newBuilder().setResync(watch.snapshotIsResync());
    instances.addInstances(snapshot, watch);
    elections.addLeaders(snapshot, watch);
    return NameServerFrame.newBuilder()
        .setWatchEvent(
            WatchEvent.newBuilder()
                .setWatchId(watch.id)
                .setRevision(revisions.current())
                .setSnapshot(snapshot))
        .build();
  }

  void overflowed(Session session, WatchState watch) {
    resyncs++;
    log.debug(
        "{} watch {} of {} overflowed its queue ({} frames); it resyncs when the client catches up",
        session,
        watch.id,
        watch.target(),
        config.watcherQueueLimit());
  }

  void enqueued(int sessionQueueSize) {
    queuedFrames++;
    if (sessionQueueSize > peakQueuedFrames) {
      peakQueuedFrames = sessionQueueSize;
    }
  }

  void dequeued(int count) {
    queuedFrames -= count;
  }

  /**
   * The most bytes of snapshot in one frame: a larger snapshot is sent in parts. Well under the
   * frame limit, so other frames interleave and a client with a smaller limit still reads them.
   */
  int snapshotPartBytes() {
    return Math.min(1 << 20, config.maxFrameLength() / 2);
  }

  /** Writer. An Error answer was queued. */
  void refused(StatusCode code) {
    counters.refused(code);
  }

  /** Writer. Watch events were handed to a connection. */
  void eventsSent(int count) {
    counters.eventsSent(count);
  }

  // ---------------------------------------------------------------------------------------------
  // Session ends.

  private void scheduleExpiryCheck(Session session, long delayNanos) {
    session.expiryCheck =
        scheduler.schedule(
            () -> executor.execute(() -> checkExpiry(session)),
            Math.max(1, delayNanos),
            TimeUnit.NANOSECONDS);
  }

  private void checkExpiry(Session session) {
    if (session.ended || session.closing) {
      return;
    }
    long idle = System.nanoTime() - session.lastSeenNanos;
    if (idle < session.ttlNanos) {
      scheduleExpiryCheck(session, session.ttlNanos - idle);
      return;
    }
    long ttlMillis = TimeUnit.NANOSECONDS.toMillis(session.ttlNanos);
    if (session.opened) {
      log.info("{} expired: no frame within its TTL of {} ms", session, ttlMillis);
      endSession(session, "session expired");
      closeWith(
          session,
          Replies.error(
              0,
              StatusCode.DEADLINE_EXCEEDED,
              "session "
                  + session.id
                  + " expired: no KeepAlive within its TTL of "
                  + ttlMillis
                  + " ms"));
    } else {
      log.info("{} sent no OpenSession within {} ms; closing it", session, ttlMillis);
      closeWith(
          session,
          Replies.error(
              0,
              StatusCode.DEADLINE_EXCEEDED,
              "no OpenSession within " + ttlMillis + " ms of connecting"));
    }
  }

  /** Removes everything the session holds and announces the removals. */
  private void endSession(Session session, String reason) {
    if (store != null) {
      endStoreSide(session, reason);
      return;
    }
    session.ended = true;
    if (session.opened) {
      instances.ended();
    }
    if (session.expiryCheck != null) {
      session.expiryCheck.dispose();
    }
    for (WatchState watch : session.watches.values()) {
      watches.remove(watch);
      session.dropWatch(watch);
    }
    session.watches.clear();
    for (String key : new ArrayList<>(session.owned)) {
      instances.remove(key, reason);
    }
    if (session.opened) {
      log.debug("{} ended: {}", session, reason);
    }
  }

  /** Sends {@code lastWords} and closes the connection; a session still open ends as closed. */
  private void closeWith(Session session, NameServerFrame lastWords) {
    if (!session.ended) {
      endSession(session, "session closed");
    }
    session.close(lastWords);
    forceCloseLater(session);
  }

  private void forceCloseLater(Session session) {
    scheduler.schedule(session.connection::dispose, CLOSE_GRACE_MILLIS, TimeUnit.MILLISECONDS);
  }

  // ---------------------------------------------------------------------------------------------
  // Closing the whole server.

  /** Any thread. Closes every session; the Mono gives their connections, to wait for. */
  Mono<List<Connection>> closeAll() {
    closeRequested = true;
    return Mono.create(
        sink ->
            executor.execute(
                () -> {
                  closed = true;
                  List<Connection> connections = new ArrayList<>();
                  for (Session session : new ArrayList<>(instances.sessions())) {
                    connections.add(session.connection);
                    session.ended = true;
                    // Over a store the sessions stay, to lapse or be resumed elsewhere; their
                    // watches go.
                    for (WatchState watch : session.watches.values()) {
                      if (watch.store) {
                        cancelStoreWatch(watch);
                      }
                    }
                    if (session.storeEnded != null) {
                      session.storeEnded.dispose();
                    }
                    if (session.expiryCheck != null) {
                      session.expiryCheck.dispose();
                    }
                    session.close(closingError());
                    forceCloseLater(session);
                  }
                  sink.success(connections);
                }));
  }

  private static NameServerFrame closingError() {
    return Replies.error(0, StatusCode.UNAVAILABLE, "the name server is closing");
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers.

  /** The canonical url if the session holds it; otherwise answers the error and returns null. */
  private String heldBy(Session session, long requestId, String url) {
    return heldBy(session, requestId, url, "");
  }

  /** As {@link #heldBy(Session, long, String)}, with {@code hint} appended to a NOT_FOUND. */
  private String heldBy(Session session, long requestId, String url, String hint) {
    String key;
    try {
      key = ServiceUrl.parse(url).toString();
    } catch (IllegalArgumentException e) {
      invalid(session, requestId, e.getMessage());
      return null;
    }
    if (store != null) {
      // The store knows which session holds the url; it answers NOT_FOUND itself.
      return key;
    }
    InstanceTable.Live live = instances.get(key);
    if (live == null || live.owner() != session) {
      session.respond(
          Replies.error(
              requestId,
              StatusCode.NOT_FOUND,
              "this session holds no instance "
                  + key
                  + (live == null ? "" : " (another session registered it)")
                  + hint));
      return null;
    }
    return key;
  }

  private static void invalid(Session session, long requestId, String message) {
    session.respond(Replies.error(requestId, StatusCode.INVALID_ARGUMENT, message));
  }

  private static String bodyName(NameClientFrame frame) {
    return switch (frame.getBodyCase()) {
      case OPEN_SESSION -> "OpenSession";
      case KEEP_ALIVE -> "KeepAlive";
      case REGISTER -> "Register";
      case DEREGISTER -> "Deregister";
      case SET_ATTRIBUTES -> "SetAttributes";
      case WATCH -> "Watch";
      case UNWATCH -> "Unwatch";
      case CAMPAIGN -> "Campaign";
      case RESIGN -> "Resign";
      case KV_GET -> "KvGet";
      case KV_PUT -> "KvPut";
      case KV_DELETE -> "KvDelete";
      case KV_LIST -> "KvList";
      case KV_WATCH -> "KvWatch";
      case CLEAR_SERVICES -> "ClearServices";
      case HEALTH_CHECK -> "HealthCheck";
      case ISSUE_TICKET -> "IssueTicket";
      case BODY_NOT_SET -> "a frame without a body";
    };
  }

  /** The IP address a session's connection comes from, or null if it is not an IP socket. */
  private static InetAddress sourceOf(Session session) {
    return session.connection.channel().remoteAddress() instanceof InetSocketAddress socket
        ? socket.getAddress()
        : null;
  }

  /** Why {@code address} is not "host:port", or null if it is. */
  static String checkAddress(String address) {
    if (address.isEmpty()) {
      return "the address is empty (expected: host:port)";
    }
    if (address.length() > MAX_ADDRESS_LENGTH) {
      return address.length()
          + " characters, longer than any host:port (at most "
          + MAX_ADDRESS_LENGTH
          + ")";
    }
    int colon = address.lastIndexOf(':');
    if (colon <= 0) {
      return "expected host:port";
    }
    String host = address.substring(0, colon);
    String port = address.substring(colon + 1);
    if (host.startsWith("[") != host.endsWith("]") || host.equals("[]")) {
      return "host " + Access.quote(host) + " has unbalanced brackets (IPv6: [addr]:port)";
    }
    if (!host.startsWith("[") && host.indexOf(':') >= 0) {
      return "an IPv6 host must be in brackets: [addr]:port";
    }
    for (int i = 0; i < host.length(); i++) {
      if (Character.isWhitespace(host.charAt(i))) {
        return "host " + Access.quote(host) + " contains whitespace";
      }
    }
    int number;
    try {
      number = Integer.parseInt(port);
    } catch (NumberFormatException e) {
      return "port " + Access.quote(port) + " is not a number";
    }
    if (number < 1 || number > 65535) {
      return "port " + number + " (expected: 1..65535)";
    }
    return null;
  }

  private void publishMetrics() {
    metrics =
        new NameServerMetrics(
            instances.openSessions(),
            instances.sessions().size(),
            instances.size(),
            watches.count(),
            current(),
            queuedFrames,
            peakQueuedFrames,
            resyncs);
  }
}

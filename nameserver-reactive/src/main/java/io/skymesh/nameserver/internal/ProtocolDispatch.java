package io.skymesh.nameserver.internal;

import io.netty.util.ReferenceCountUtil;
import io.skymesh.codec.FrameException;
import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import io.skymesh.nameserver.NameServerMetrics;
import io.skymesh.proto.Ack;
import io.skymesh.proto.Campaign;
import io.skymesh.proto.ClearServices;
import io.skymesh.proto.Deregister;
import io.skymesh.proto.Instance;
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
import io.skymesh.proto.Unwatch;
import io.skymesh.proto.Watch;
import io.skymesh.proto.WatchEvent;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
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

  ProtocolDispatch(NameServerConfig config, Scheduler scheduler, DataLog.Opened opened) {
    this.config = config;
    this.scheduler = scheduler;
    this.executor = new SerialExecutor(scheduler, this::publishMetrics);
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

  /** Any thread. The revision of the latest change applied. */
  long revision() {
    return revisions.published();
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
    Flux<NameServerFrame> outbound =
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
        number, serverId + "-" + number, connection, this, config.watcherQueueLimit());
  }

  private void connected(Session session) {
    if (closed) {
      session.close(closingError());
      forceCloseLater(session);
      return;
    }
    instances.sessions().add(session);
    session.ttlNanos = TimeUnit.MILLISECONDS.toNanos(config.sessionTtl().toMillis());
    session.lastSeenNanos = System.nanoTime();
    scheduleExpiryCheck(session, session.ttlNanos);
    log.debug("{} connected from {}", session, session.connection.channel().remoteAddress());
  }

  private void disconnected(Session session) {
    if (!session.ended) {
      endSession(session, "session closed");
    }
    session.close(null);
    instances.sessions().remove(session);
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
    if (session.ended || session.closing) {
      return;
    }
    // Any well-formed frame shows the client is alive, not only KeepAlive.
    session.lastSeenNanos = System.nanoTime();
    long requestId = frame.getRequestId();
    try {
      if (requestId == 0) {
        closeWith(
            session,
            Replies.error(
                0,
                StatusCode.INVALID_ARGUMENT,
                "request_id 0 is reserved (expected: a non-zero id unique among requests in"
                    + " flight); closing the connection"));
      } else if (!session.opened) {
        if (frame.getBodyCase() == NameClientFrame.BodyCase.OPEN_SESSION) {
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
    switch (frame.getBodyCase()) {
      case OPEN_SESSION ->
          session.respond(
              Replies.error(
                  requestId,
                  StatusCode.FAILED_PRECONDITION,
                  "the session is already open (id " + session.id + ")"));
      case KEEP_ALIVE -> session.respond(Replies.ack(requestId, revisions.current()));
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
              "app_id \"" + open.getAppId() + "\" must be 1 to 64 of [A-Za-z0-9_-]"));
      return;
    }
    long ttlMillis = config.grantTtlMillis(open.getTtlMillis());
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
    String addressProblem = checkAddress(instance.getAddress());
    if (addressProblem != null) {
      invalid(
          session,
          requestId,
          "Invalid address \"" + instance.getAddress() + "\" of " + key + ": " + addressProblem);
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
              "prefix \"" + prefix + "\" is a ServiceName prefix and may not contain '/'");
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
  private static boolean watchIdFree(Session session, long requestId, long watchId) {
    if (watchId == 0) {
      invalid(session, requestId, "watch_id 0 is reserved (expected: a non-zero id)");
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
    watches.add(watch);
    session.watches.put(watch.id, watch);
    session.respond(Replies.ack(requestId, revisions.current()));
    watches.catchUp(watch, revisions.current());
  }

  private void unwatch(Session session, long requestId, Unwatch request) {
    WatchState watch = session.watches.remove(request.getWatchId());
    if (watch != null) {
      watches.remove(watch);
      session.dropWatch(watch);
    }
    session.respond(Replies.ack(requestId, revisions.current()));
  }

  private void clearServices(Session session, long requestId, ClearServices request) {
    String prefix = request.getPrefix();
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
    // Campaigning again is a no-op: the candidate keeps its place in the line.
    session.respond(Replies.ack(requestId, elections.campaign(key)));
  }

  private void resign(Session session, long requestId, Resign request) {
    String key = heldBy(session, requestId, request.getUrl());
    if (key == null) {
      return;
    }
    elections.leave(key);
    session.respond(Replies.ack(requestId, revisions.current()));
  }

  // ---------------------------------------------------------------------------------------------
  // KV config.

  private void kvGet(Session session, long requestId, KvGet request) {
    String key = request.getKey();
    if (!validKey(session, requestId, key)) {
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
      case BODY_NOT_SET -> "a frame without a body";
    };
  }

  /** Why {@code address} is not "host:port", or null if it is. */
  static String checkAddress(String address) {
    if (address.isEmpty()) {
      return "the address is empty (expected: host:port)";
    }
    int colon = address.lastIndexOf(':');
    if (colon <= 0) {
      return "expected host:port";
    }
    String host = address.substring(0, colon);
    String port = address.substring(colon + 1);
    if (host.startsWith("[") != host.endsWith("]") || host.equals("[]")) {
      return "host \"" + host + "\" has unbalanced brackets (IPv6: [addr]:port)";
    }
    if (!host.startsWith("[") && host.indexOf(':') >= 0) {
      return "an IPv6 host must be in brackets: [addr]:port";
    }
    for (int i = 0; i < host.length(); i++) {
      if (Character.isWhitespace(host.charAt(i))) {
        return "host \"" + host + "\" contains whitespace";
      }
    }
    int number;
    try {
      number = Integer.parseInt(port);
    } catch (NumberFormatException e) {
      return "port \"" + port + "\" is not a number";
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
            revisions.current(),
            queuedFrames,
            peakQueuedFrames,
            resyncs);
  }
}

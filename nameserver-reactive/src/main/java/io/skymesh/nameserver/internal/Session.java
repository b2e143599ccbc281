package io.skymesh.nameserver.internal;

import io.skymesh.nameserver.Principal;
import io.skymesh.nameserver.spi.StoreSession;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.StatusCode;
import java.net.InetAddress;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import org.reactivestreams.Subscription;
import reactor.core.Disposable;
import reactor.core.publisher.FluxSink;
import reactor.netty.Connection;

/**
 * One client connection and, once it has sent OpenSession, its session: the instances it holds, its
 * watches, and its bounded outbound queue. Every field but the final ones is confined to the
 * writer.
 *
 * <p>The outbound queue holds the answers and watch events not yet handed to the connection. Frames
 * leave it only on demand from Reactor Netty's {@code sendObject}, which asks for more only as
 * earlier frames reach the socket, so a client that does not read stops the flow. The queue and the
 * requests read but not yet answered together never exceed the limit:
 *
 * <ul>
 *   <li>The server reads requests only while there is room for their answers (a window of at most
 *       32 frames read ahead), so an answer is never refused or dropped.
 *   <li>A watch event that finds no room is not queued: the watch's queued events are dropped
 *       instead and the watch waits for a snapshot with {@code resync = true}, sent once the client
 *       has read enough for a quarter of the queue to be free. While it waits it queues nothing,
 *       since the snapshot is taken at the revision of the moment it is sent.
 * </ul>
 *
 * <p>A live watch event is queued as a {@link WatchFrame}: the event's encoding, shared with every
 * other watch it goes to, and this watch's id, written into a buffer only on the connection's event
 * loop ({@link WatchFrame.Encoder}). Answers and snapshots are queued as {@code NameServerFrame}s.
 */
final class Session implements InstanceHolder, WatchSink {

  /**
   * A queued frame ({@code NameServerFrame} or {@link WatchFrame}), and the watch it belongs to, if
   * any.
   */
  private record Outbound(Object frame, WatchState watch) {}

  /** An answer held back until the log has written record {@code seq} (0: only for its turn). */
  private record Held(NameServerFrame frame, long seq) {}

  private static final int MAX_READ_AHEAD = 32;

  final long number;

  /**
   * The server's id for the connection; with a {@code NameStore}, the store session's id once open.
   */
  String id;

  final Connection connection;
  private final ProtocolDispatch registry;
  private final int queueLimit;
  private final int readAhead;

  String appId;

  /** The source IP address counted against the per-address limit, or null. The writer only. */
  InetAddress source;

  boolean opened;

  /** Who opened the session; null in open mode. */
  Principal principal;

  /** The session's request rate limit. */
  final RequestRate rate;

  /** The session's instances and watches are gone; frames from it are ignored. */
  boolean ended;

  /** The outbound side is finishing: nothing but the last words is sent any more. */
  boolean closing;

  long ttlNanos;
  long lastSeenNanos;
  Disposable expiryCheck;

  /** With a {@code NameStore}: the session in the store, once opened or resumed. */
  StoreSession storeSession;

  /** With a {@code NameStore}: watches the store's end of the session. */
  Disposable storeEnded;

  /** With a {@code NameStore}: a call of this session is in flight (or its Ack is held). */
  boolean storeBusy;

  /** With a {@code NameStore}: a store call is running (not only an Ack held). */
  boolean storeInFlight;

  /** With a {@code NameStore}: the session's end in the store, waiting for the call in flight. */
  Runnable storeAfterCall;

  /** With a {@code NameStore}: requests read while a call was in flight, answered in order. */
  final ArrayDeque<NameClientFrame> storeWaiting = new ArrayDeque<>();

  /** With a {@code NameStore}: an Ack held until the session's own watches show its revision. */
  NameServerFrame heldAck;

  long heldRevision;
  Predicate<WatchState> heldFor;

  final Set<String> owned = new LinkedHashSet<>();
  final Map<Long, WatchState> watches = new HashMap<>();

  private final ArrayDeque<Outbound> queue = new ArrayDeque<>();

  /** Answers held back for the data directory's log, in order; they count against the queue. */
  private final ArrayDeque<Held> held = new ArrayDeque<>();

  private final Set<WatchState> pendingSnapshots = new LinkedHashSet<>();
  private FluxSink<Object> sink;
  private boolean completeWhenEmpty;
  private boolean completed;
  private Subscription inbound;

  /** Requests asked of the connection and not yet processed. */
  private int outstanding;

  Session(
      long number,
      String id,
      Connection connection,
      ProtocolDispatch registry,
      int queueLimit,
      int requestsPerSecond) {
    this.number = number;
    this.rate = new RequestRate(requestsPerSecond);
    this.id = id;
    this.connection = connection;
    this.registry = registry;
    this.queueLimit = queueLimit;
    this.readAhead = Math.max(1, Math.min(MAX_READ_AHEAD, queueLimit / 4));
  }

  /** Attaches the sink of the connection's outbound flux. */
  void attach(FluxSink<Object> sink) {
    this.sink = sink;
    drain();
  }

  /** Attaches the subscription to the connection's inbound frames, and asks for the first. */
  void attachInbound(Subscription subscription) {
    this.inbound = subscription;
    grantInbound();
  }

  /** Accounts for one request frame taken from the connection. */
  void requestReceived() {
    outstanding--;
  }

  int queued() {
    return queue.size();
  }

  /**
   * Queues an answer; there is always room, reserved when the request was read. Behind an answer
   * held for the log, it waits its turn, so answers leave in the order they were made.
   */
  void respond(NameServerFrame frame) {
    if (closing) {
      return;
    }
    if (!held.isEmpty()) {
      held.add(new Held(frame, 0));
      return;
    }
    add(new Outbound(frame, null));
    emit();
  }

  /** Holds an answer back until the data directory's log has written record {@code seq}. */
  void respondWhenWritten(NameServerFrame frame, long seq) {
    if (closing) {
      return;
    }
    held.add(new Held(frame, seq));
  }

  /** The log has written every record up to {@code seq}: queues the answers that waited for it. */
  void releaseWritten(long seq) {
    while (!held.isEmpty() && held.peek().seq <= seq) {
      add(new Outbound(held.poll().frame, null));
    }
    emit();
  }

  /** The log failed: every held answer to a change becomes an error saying so. */
  void failWhenWritten(String message) {
    while (!held.isEmpty()) {
      Held next = held.poll();
      NameServerFrame frame = next.frame;
      if (next.seq > 0 && frame.hasAck()) {
        frame = Replies.error(frame.getAck().getRequestId(), StatusCode.DATA_LOSS, message);
      }
      add(new Outbound(frame, null));
    }
    emit();
  }

  /** Whether answers wait for the log. */
  boolean waitsForLog() {
    return !held.isEmpty();
  }

  @Override
  public String id() {
    return id;
  }

  @Override
  public Set<String> owned() {
    return owned;
  }

  /** Queues a watch event, or switches the watch to a resync snapshot if there is no room. */
  @Override
  public void offerEvent(WatchState watch, SharedEvent event) {
    if (closing || watch.pendingSnapshot) {
      return;
    }
    if (free() > 0) {
      add(new Outbound(event.frameFor(watch.id), watch));
      emit();
    } else {
      if (watch.store) {
        // Its queued events stay; the store's watch is cancelled and resumes from the last one.
        registry.cancelStoreWatch(watch);
      } else {
        removeQueued(watch);
      }
      watch.pendingSnapshot = true;
      pendingSnapshots.add(watch);
      registry.overflowed(this, watch);
    }
  }

  /** Makes {@code watch} wait for a snapshot, sent now if there is room. */
  @Override
  public void requestSnapshot(WatchState watch) {
    watch.pendingSnapshot = true;
    pendingSnapshots.add(watch);
    sendPendingSnapshots(1);
  }

  /** Forgets a watch: its queued events and pending snapshot. */
  void dropWatch(WatchState watch) {
    pendingSnapshots.remove(watch);
    watch.pendingSnapshot = false;
    removeQueued(watch);
  }

  /**
   * Hands queued frames to the connection as far as it asks for them, sends pending snapshots if a
   * quarter of the queue is free, and reads more requests if there is room for their answers.
   */
  void drain() {
    emit();
    sendPendingSnapshots(Math.max(1, queueLimit / 4));
    grantInbound();
  }

  /**
   * Finishes the outbound side: drops everything queued, queues {@code lastWords} (if not null),
   * and completes the outbound flux once it is written, which closes the connection.
   */
  void close(NameServerFrame lastWords) {
    if (closing) {
      return;
    }
    closing = true;
    registry.dequeued(queue.size());
    queue.clear();
    held.clear();
    pendingSnapshots.clear();
    if (lastWords != null) {
      add(new Outbound(lastWords, null));
    }
    completeWhenEmpty = true;
    emit();
  }

  private int free() {
    return queueLimit
        - queue.size()
        - held.size()
        - outstanding
        - storeWaiting.size()
        - (storeBusy ? 1 : 0);
  }

  private void add(Outbound outbound) {
    if (outbound.frame instanceof NameServerFrame frame) {
      if (frame.hasError()) {
        registry.refused(frame.getError().getStatus().getCode());
      }
      int partBytes = registry.snapshotPartBytes();
      if (SnapshotParts.tooLarge(frame, partBytes)) {
        // Sent as consecutive parts: a frame over the limit would cost the watcher its connection.
        for (NameServerFrame part : SnapshotParts.split(frame, partBytes)) {
          queue.add(new Outbound(part, outbound.watch));
          registry.enqueued(queue.size());
        }
        return;
      }
    }
    queue.add(outbound);
    registry.enqueued(queue.size());
  }

  private void emit() {
    if (sink == null || completed) {
      return;
    }
    int emitted = 0;
    int events = 0;
    while (!queue.isEmpty() && sink.requestedFromDownstream() > 0) {
      Outbound next = queue.poll();
      emitted++;
      if (next.watch != null) {
        next.watch.emittedAny = true;
        next.watch.partsOpen = continued(next.frame);
      }
      if (isEvent(next.frame)) {
        events++;
      }
      sink.next(next.frame);
    }
    registry.dequeued(emitted);
    if (events > 0) {
      registry.eventsSent(events);
    }
    if (completeWhenEmpty && queue.isEmpty()) {
      completed = true;
      sink.complete();
    }
  }

  private void sendPendingSnapshots(int minFree) {
    if (pendingSnapshots.isEmpty() || closing || free() < minFree) {
      return;
    }
    Iterator<WatchState> waiting = pendingSnapshots.iterator();
    while (waiting.hasNext() && free() > 0) {
      WatchState watch = waiting.next();
      waiting.remove();
      watch.pendingSnapshot = false;
      if (watch.store) {
        registry.resumeStoreWatch(this, watch);
      } else {
        add(new Outbound(registry.snapshotFrame(watch), watch));
      }
    }
    emit();
  }

  private void grantInbound() {
    if (inbound == null || closing || outstanding > readAhead / 2) {
      return;
    }
    int n = Math.min(readAhead - outstanding, free());
    if (n > 0) {
      outstanding += n;
      inbound.request(n);
    }
  }

  private void removeQueued(WatchState watch) {
    int before = queue.size();
    // The rest of a snapshot whose first parts are out stays: the watcher needs it whole.
    boolean[] finishing = {watch.partsOpen};
    if (before > 0
        && queue.removeIf(
            outbound -> {
              if (outbound.watch != watch) {
                return false;
              }
              if (finishing[0]) {
                finishing[0] = continued(outbound.frame);
                return false;
              }
              return true;
            })) {
      registry.dequeued(before - queue.size());
    }
  }

  /** Whether {@code frame} is a snapshot part with more parts after it (never a live event). */
  private static boolean continued(Object frame) {
    if (!(frame instanceof NameServerFrame message)) {
      return false;
    }
    return message.hasWatchEvent()
        ? message.getWatchEvent().getSnapshot().getContinued()
        : message.hasKvWatchEvent() && message.getKvWatchEvent().getSnapshot().getContinued();
  }

  /** Whether {@code frame} is a watch event (live, or a snapshot). */
  private static boolean isEvent(Object frame) {
    return frame instanceof WatchFrame
        || frame instanceof NameServerFrame message
            && (message.hasWatchEvent() || message.hasKvWatchEvent());
  }

  @Override
  public String toString() {
    return "session " + id + (appId != null ? " (" + appId + ")" : "");
  }
}

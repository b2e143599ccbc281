package io.skymesh.mesh.internal.transport;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import io.skymesh.codec.FrameDecoder;
import io.skymesh.codec.FrameException;
import io.skymesh.codec.Frames;
import io.skymesh.codec.Tickets;
import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.OverloadedException;
import io.skymesh.core.exceptions.PeerUnavailableException;
import io.skymesh.core.exceptions.SkymeshException;
import io.skymesh.proto.GoAway;
import io.skymesh.proto.Hello;
import io.skymesh.proto.PeerFrame;
import io.skymesh.proto.PeerTicket;
import io.skymesh.proto.Pong;
import io.skymesh.proto.Status;
import io.skymesh.proto.StatusCode;
import io.skymesh.proto.TicketClaims;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.Objects;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.Exceptions;
import reactor.core.Fuseable;
import reactor.core.publisher.Mono;
import reactor.core.publisher.MonoSink;
import reactor.core.publisher.Sinks;
import reactor.netty.Connection;
import reactor.util.Logger;
import reactor.util.Loggers;
import reactor.util.concurrent.Queues;

/**
 * One peer connection: the Netty handler that sits after the frame decoder for the channel's whole
 * life, and the {@link PeerConnection} the layers above use.
 *
 * <p>Outbound: sends go into a lock-free multi-producer queue; the event loop drains it, encoding
 * frames back to back into pooled direct buffers of {@value #BATCH_BYTES} bytes (up to {@value
 * #LARGEST_BATCH_BYTES} when large frames wait), writes each buffer with one promise, and flushes
 * once per drain. A drain runs after the event loop's current batch of reads, so that the sends
 * made while handling them leave together, or at once when enough of them have queued meanwhile
 * ({@value #EAGER_DRAIN_FRAMES}, or half as many as the last batch of reads brought), so that the
 * peer is not left idle while this loop works through a long batch. It stops when {@code
 * outboundQueueLimit} frames are written but not yet on the socket, or when the channel is over its
 * high water mark, and resumes when a write completes or the channel turns writable: waiting sends
 * stay in the queue, unencoded.
 *
 * <p>Inbound: each decoded frame is dispatched from {@code channelRead}, on the event loop, without
 * Reactor Netty's receive flux in between. While a dispatch has not completed, later frames wait in
 * order; once {@code inboundPrefetch} of them wait, the channel stops reading until the dispatch
 * completes and they have been dispatched, so the socket is read only as fast as the dispatcher
 * completes.
 *
 * <p>Fields without {@code volatile} are touched only on the channel's event loop.
 */
final class PeerChannel extends ChannelInboundHandlerAdapter implements PeerConnection {

  static final String NAME = "skymesh.peer";

  private static final Logger log = Loggers.getLogger(PeerChannel.class);

  /** The size of a batch buffer; a larger frame gets a buffer of its own size. */
  static final int BATCH_BYTES = 16 * 1024;

  /** The largest batch buffer, for large frames of which many wait (see {@code batchCapacity}). */
  static final int LARGEST_BATCH_BYTES = 64 * 1024;

  /**
   * The fewest sends queued on the event loop after which it drains at once rather than after its
   * reads; half the frames of the last batch of reads, when that is more.
   */
  static final int EAGER_DRAIN_FRAMES = 32;

  /** Frames written in one turn of the event loop before it yields to other channels. */
  private static final int MAX_FRAMES_PER_TURN = 16 * 1024;

  private static final int OPEN = 0;
  private static final int DRAINING = 1;
  private static final int CLOSED = 2;

  private static final int WRITE_EMPTY = 0;
  private static final int WRITE_BLOCKED = 1;
  private static final int WRITE_YIELD = 2;

  private final PeerTransport transport;
  private final Channel channel;
  private final boolean inbound;
  private final int maxFrameLength;
  private final int outboundLimit;
  private final int maxPendingSends;
  private final int inboundPrefetch;

  /** {@code writeStallTimeout} in nanoseconds; 0 for never. */
  private final long writeStallNanos;

  /** The pool entry that opened this connection; null for an accepted connection. */
  final PeerTransport.Dial dial;

  private ChannelHandlerContext ctx;

  // Handshake.
  private volatile String remoteAddress;
  private volatile String remoteProcessId = "";
  private volatile String remoteAppId = "";

  /**
   * What the peer's ticket vouches for, when this mesh requires tickets; null otherwise. Replaced
   * by each valid renewal.
   */
  private volatile @Nullable TicketClaims peerTicket;

  /**
   * The ticket this side's {@code Hello} carried; a newer one is sent once the handshake is done.
   */
  private volatile @Nullable PeerTicket sentTicket;

  /** Reactor Netty handed the connection over: errors are this channel's own from now on. */
  private volatile boolean started;

  private boolean handshakeDone;
  private final Sinks.One<PeerChannel> handshake = Sinks.one();
  private ScheduledFuture<?> handshakeTimer;

  // Lifecycle.
  private volatile int lifecycle = OPEN;
  private volatile boolean remoteGoingAway;
  private volatile SkymeshException closeError;
  private boolean aborted;
  private final Sinks.Empty<Void> closed = Sinks.empty();

  // Outbound.
  private final Queue<PendingSend> queue = Queues.<PendingSend>unboundedMultiproducer().get();

  /**
   * Sends taken from the queue before the handshake allowed them out, in order; they leave first
   * once it does. Event loop only.
   */
  private final ArrayDeque<PendingSend> held = new ArrayDeque<>();

  private boolean helloWritten;
  private final AtomicInteger wip = new AtomicInteger();
  private final AtomicInteger pending = new AtomicInteger();
  private final AtomicLong refusedSends = new AtomicLong();
  private final AtomicLong backlogPauses = new AtomicLong();
  private final Runnable drainTask = this::drain;
  private final Runnable resumeAfterBacklogTask = this::resumeAfterBacklog;
  private int inSocket;
  private int framesThisTurn;
  private boolean draining;

  /** Sends queued on the event loop since its last drain; event loop only. */
  private int queuedOnLoop;

  /** Sends queued on the event loop after which it drains at once; event loop only. */
  private int eagerDrainFrames = EAGER_DRAIN_FRAMES;

  /** {@code received} when the last batch of reads ended; event loop only. */
  private long receivedBeforeBatch;

  private boolean again;
  private boolean blocked;

  /**
   * Write stalls, event loop only: the check armed while sends wait for the socket, the batches
   * written so far, and what had been written when the check was armed.
   */
  private @Nullable ScheduledFuture<?> stallCheck;

  private long batchesDone;
  private long batchesDoneAtCheck;
  private @Nullable Object currentAtCheck;
  private long progressAtCheck;
  private volatile boolean closedByWriteStall;
  private final Runnable stallCheckTask = this::checkWriteStall;

  private boolean goAwayWritten;
  private boolean closeRequested;

  // Inbound: event loop only.
  private long lastRequestStreamId;

  /** Frames read while a dispatch was pending, or before {@code start}, in order. */
  private final ArrayDeque<Object> waitingFrames = new ArrayDeque<>();

  /**
   * Frames wait rather than being dispatched: until {@code start}, and while a frame's dispatch has
   * not completed.
   */
  private boolean inboundHeld = true;

  /** {@code resumeInbound} is on the stack: a completion within it leaves the loop to it. */
  private boolean dispatchingWaiting;

  /** Reading is off because {@code inboundPrefetch} frames wait. */
  private boolean readPaused;

  /**
   * Reading is off because the peer does not read what this side writes: {@link #pauseMark} sends
   * wait for the socket. Written on the event loop, read by {@link #sendDone} on any thread.
   */
  private volatile boolean backlogPaused;

  /**
   * Sends waiting for the socket at which reading stops: twice {@code maxPendingSends}. This side's
   * own work is refused past {@code maxPendingSends}, so the rest are answers to the peer's work
   * (replies, stream items, reports) that the peer has not read.
   */
  private final int pauseMark;

  private long received;
  private long processed;
  private final AtomicLong receivedCount = new AtomicLong();
  private final AtomicLong processedCount = new AtomicLong();

  // Written, for metrics: plain counts on the event loop, published with lazySet.
  private long batches;
  private long frames;
  private final AtomicLong batchCount = new AtomicLong();
  private final AtomicLong frameCount = new AtomicLong();

  // Ping.
  private final AtomicLong pingSequence = new AtomicLong();
  private final Map<Long, PendingPing> pings = new ConcurrentHashMap<>();

  PeerChannel(
      PeerTransport transport,
      Channel channel,
      boolean inbound,
      PeerTransport.Dial dial,
      String remoteAddress) {
    this.transport = transport;
    this.channel = channel;
    this.inbound = inbound;
    this.dial = dial;
    this.remoteAddress = remoteAddress;
    PeerTransportConfig config = transport.config();
    this.maxFrameLength = config.maxFrameLength();
    this.outboundLimit = config.outboundQueueLimit();
    this.maxPendingSends = config.maxPendingSends();
    this.pauseMark = (int) Math.min(Integer.MAX_VALUE, 2L * maxPendingSends);
    this.inboundPrefetch = config.inboundPrefetch();
    this.writeStallNanos = config.writeStallNanos();
    channel.closeFuture().addListener(future -> onClosed());
  }

  /** The handler installed in {@code connection}'s pipeline. */
  static PeerChannel of(Connection connection) {
    PeerChannel peer = connection.channel().pipeline().get(PeerChannel.class);
    if (peer == null) {
      throw new IllegalStateException("no " + NAME + " in the pipeline of " + connection.channel());
    }
    return peer;
  }

  // ---------------------------------------------------------------------------------------------
  // PeerConnection

  @Override
  public String remoteAddress() {
    return remoteAddress;
  }

  @Override
  public String remoteProcessId() {
    return remoteProcessId;
  }

  @Override
  public String remoteAppId() {
    return remoteAppId;
  }

  @Override
  public boolean isInbound() {
    return inbound;
  }

  @Override
  public boolean isOpen() {
    return lifecycle == OPEN && !remoteGoingAway && channel.isActive();
  }

  @Override
  public Mono<Void> send(OutboundFrame frame) {
    Objects.requireNonNull(frame, "frame");
    return new SendMono(this, frame);
  }

  @Override
  public Mono<Duration> ping() {
    return Mono.create(this::startPing);
  }

  @Override
  public Mono<Void> onClose() {
    return closed.asMono();
  }

  @Override
  public int pendingOutboundFrames() {
    return pending.get();
  }

  @Override
  public ScheduledExecutorService executor() {
    return channel.eventLoop();
  }

  @Override
  public long refusedSends() {
    return refusedSends.get();
  }

  @Override
  public long backlogPauses() {
    return backlogPauses.get();
  }

  @Override
  public boolean closedByWriteStall() {
    return closedByWriteStall;
  }

  @Override
  public long inboundBacklog() {
    return Math.max(0, receivedCount.get() - processedCount.get());
  }

  @Override
  public long writeBatches() {
    return batchCount.get();
  }

  @Override
  public long framesWritten() {
    return frameCount.get();
  }

  @Override
  public String toString() {
    String process = remoteProcessId.isEmpty() ? "" : " (process " + remoteProcessId + ")";
    if (inbound) {
      // Before its Hello a peer has no listen address: name its socket.
      return "inbound peer connection from "
          + (remoteAddress.isEmpty() ? String.valueOf(channel.remoteAddress()) : remoteAddress)
          + process;
    }
    return "outbound peer connection to " + remoteAddress + process;
  }

  // ---------------------------------------------------------------------------------------------
  // Netty handler

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    receivedCount.lazySet(++received);
    if (inboundHeld) {
      waitingFrames.addLast(msg);
      if (waitingFrames.size() >= inboundPrefetch && !readPaused) {
        readPaused = true;
        applyAutoRead();
      }
      return;
    }
    dispatchFrame(msg);
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    // Half a batch: never the whole window in flight, which would make the two ends take turns.
    // A batch is at most a few reads of a buffer each: far fewer frames than an int holds.
    int readThisBatch = (int) (received - receivedBeforeBatch);
    receivedBeforeBatch = received;
    eagerDrainFrames = Math.max(EAGER_DRAIN_FRAMES, readThisBatch >> 1);
    // Once per batch of reads, after its frames' answers were queued.
    if (!backlogPaused && pending.get() >= pauseMark) {
      pauseForBacklog();
    }
    ctx.fireChannelReadComplete();
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    if (ctx.channel().isWritable()) {
      drain();
    }
    ctx.fireChannelWritabilityChanged();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (!started) {
      // Still connecting (a failed TLS handshake): passed on, so the connect fails with it.
      ctx.fireExceptionCaught(cause);
      return;
    }
    // Handled here, not passed on: the frame decoder has logged a protocol error and closes the
    // channel after its last words; an I/O error closes it too. Either way the inbound flux then
    // completes, and every pending send fails with the cause.
    if (closeError == null) {
      closeError = new PeerUnavailableException(this + ": " + cause.getMessage(), cause);
    }
    if (!(cause instanceof FrameException)) {
      if (cause instanceof IOException) {
        log.debug("{}: {}", this, cause.toString());
      } else {
        log.warn("Closing " + this + " after an unexpected error", cause);
      }
      ctx.close();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Start and handshake

  /**
   * Starts reading and the handshake. Called once, on the event loop, when Reactor Netty has made
   * the connection; a dialed connection sends its {@code Hello} first.
   */
  void start(Connection connection) {
    started = true;
    if (!channel.eventLoop().inEventLoop()) {
      channel.eventLoop().execute(() -> start(connection));
      return;
    }
    // Reactor Netty turned reading off for its receive flux, which is not used: frames are
    // dispatched from channelRead. A TLS handshake may have read frames already; they go first.
    resumeInbound();
    applyAutoRead();
    Duration timeout = transport.config().handshakeTimeout();
    handshakeTimer =
        channel
            .eventLoop()
            .schedule(this::handshakeTimedOut, timeout.toNanos(), TimeUnit.NANOSECONDS);
    if (inbound && transport.isClosing()) {
      abort(StatusCode.UNAVAILABLE, "the peer transport is shutting down");
    } else if (!inbound) {
      sendHello(remoteAddress);
    }
  }

  /** Queues this side's {@code Hello}, meant for {@code audience}. */
  private void sendHello(String audience) {
    PeerTickets tickets = transport.config().tickets();
    if (tickets != null) {
      sentTicket = tickets.ticket();
    }
    enqueueInternal(transport.hello(audience));
  }

  /** Completes with this connection when the {@code Hello}s have been exchanged. */
  Mono<PeerChannel> handshake() {
    return handshake.asMono();
  }

  private void handshakeTimedOut() {
    if (!handshakeDone) {
      abort(
          StatusCode.DEADLINE_EXCEEDED,
          "no Hello within " + transport.config().handshakeTimeout().toMillis() + " ms");
    }
  }

  private Mono<Void> onHandshakeFrame(PeerFrame frame) {
    switch (frame.getBodyCase()) {
      case HELLO -> {
        return onHello(frame.getHello());
      }
      case GO_AWAY -> {
        GoAway goAway = frame.getGoAway();
        remoteGoingAway = true;
        SkymeshException error =
            new PeerUnavailableException(
                this
                    + " refused the connection: "
                    + goAway.getStatus().getCode()
                    + " "
                    + goAway.getStatus().getMessage());
        closeNow(error, null);
      }
      default -> {
        return expectedHello(frame.getBodyCase());
      }
    }
    return Mono.empty();
  }

  private Mono<Void> expectedHello(PeerFrame.BodyCase got) {
    abort(StatusCode.FAILED_PRECONDITION, "expected Hello first, got " + got);
    return Mono.empty();
  }

  /**
   * Checks the peer's {@code Hello} and completes the handshake. Completes at once, or, when the
   * peer's ticket is signed by a key this mesh does not know yet, after an early renewal of its own
   * ticket has taught it the name server's current key: the frames after the {@code Hello} wait.
   */
  private Mono<Void> onHello(Hello hello) {
    if (hello.getProtocolVersion() != PeerFrames.PROTOCOL_VERSION) {
      abort(
          StatusCode.FAILED_PRECONDITION,
          "protocol version "
              + hello.getProtocolVersion()
              + " is not supported (expected: "
              + PeerFrames.PROTOCOL_VERSION
              + ")");
      return Mono.empty();
    }
    if (hello.getProcessId().isEmpty()) {
      abort(StatusCode.FAILED_PRECONDITION, "Hello without a process_id");
      return Mono.empty();
    }
    remoteProcessId = hello.getProcessId();
    remoteAppId = hello.getAppId();
    PeerTickets tickets = transport.config().tickets();
    if (tickets == null) {
      accept(hello, null);
      return Mono.empty();
    }
    if (checkHello(hello, tickets, true)) {
      return Mono.empty();
    }
    // Signed by a key this mesh does not know: learn its name server's current one, check again.
    return afterRefresh(tickets, () -> checkHello(hello, tickets, false));
  }

  /**
   * Checks the ticket of a {@code Hello}, and accepts or refuses the peer; returns true when it
   * did. With {@code mayRefresh}, a ticket that no trusted key signed is left undecided (false).
   */
  private boolean checkHello(Hello hello, PeerTickets tickets, boolean mayRefresh) {
    if (aborted) {
      return true;
    }
    try {
      TicketClaims claims =
          tickets.check(hello, inbound ? transport.listenAddress() : transport.processId());
      peerTicket = claims;
      remoteAppId = claims.getAppId();
    } catch (Tickets.InvalidTicketException e) {
      if (mayRefresh && e.untrustedIssuer()) {
        return false;
      }
      refuseTicket(e, "Refusing {}: {}");
      return true;
    }
    accept(hello, tickets);
    return true;
  }

  private void refuseTicket(Tickets.InvalidTicketException e, String format) {
    transport.ticketRefused();
    log.warn(format, this, e.getMessage());
    abort(StatusCode.UNAUTHENTICATED, e.getMessage());
  }

  /**
   * Renews this mesh's ticket early ({@link PeerTickets#refresh()}), then runs {@code check} on the
   * event loop; completes after it, so the inbound frames behind wait for the decision.
   */
  private Mono<Void> afterRefresh(PeerTickets tickets, Runnable check) {
    return Mono.create(
        sink ->
            tickets
                .refresh()
                .subscribe(
                    null,
                    error -> sink.success(),
                    () -> {
                      try {
                        channel
                            .eventLoop()
                            .execute(
                                () -> {
                                  check.run();
                                  sink.success();
                                });
                      } catch (RejectedExecutionException e) {
                        sink.success(); // the channel's loop is gone, and the channel with it
                      }
                    }));
  }

  /** The peer's {@code Hello} holds: answers it (if the peer dialed) and ends the handshake. */
  private void accept(Hello hello, @Nullable PeerTickets tickets) {
    if (inbound) {
      remoteAddress = hello.getListenAddress();
      if (transport.isClosing()) {
        abort(StatusCode.UNAVAILABLE, "the peer transport is shutting down");
        return;
      }
      sendHello(hello.getProcessId());
    }
    handshakeDone = true;
    if (handshakeTimer != null) {
      handshakeTimer.cancel(false);
      handshakeTimer = null;
    }
    log.debug("{}: handshake done", this);
    if (!held.isEmpty()) {
      // Frames queued during the handshake leave now, in their order.
      kick();
    }
    if (tickets != null && tickets.ticket() != sentTicket) {
      // Renewed while the Hello was on its way: the peer gets the new ticket too.
      ticketRenewed(tickets.ticket());
    }
    transport.config().onConnected().accept(this);
    handshake.tryEmitValue(this);
  }

  // ---------------------------------------------------------------------------------------------
  // Inbound

  /** Dispatches one frame; when its dispatch does not complete at once, the next frames wait. */
  private void dispatchFrame(Object message) {
    Mono<Void> done;
    try {
      done = onFrame(message);
    } catch (Throwable t) {
      Exceptions.throwIfJvmFatal(t);
      // A bug, not the peer's doing: the connection cannot go on in order without this frame, so
      // the frames after it are dropped (onFrame releases them) while it closes.
      aborted = true;
      exceptionCaught(ctx, t);
      return;
    }
    if (done == Mono.<Void>empty()) {
      return;
    }
    inboundHeld = true;
    DispatchResume resume = new DispatchResume(message);
    try {
      done.subscribe(resume);
    } catch (Throwable t) {
      // A Mono that throws from subscribe rather than signalling: the frame failed, go on.
      Exceptions.throwIfJvmFatal(t);
      resume.onError(t);
    }
  }

  /**
   * Lets the waiting frames go ({@code start}, or a pending dispatch has completed): dispatches
   * them until one's dispatch is pending, and resumes reading once none waits.
   */
  private void resumeInbound() {
    inboundHeld = false;
    if (dispatchingWaiting) {
      return; // the loop below, further up the stack, goes on
    }
    dispatchingWaiting = true;
    try {
      Object next;
      while (!inboundHeld && (next = waitingFrames.pollFirst()) != null) {
        dispatchFrame(next);
      }
    } finally {
      dispatchingWaiting = false;
    }
    if (readPaused && !inboundHeld) {
      readPaused = false;
      applyAutoRead();
    }
  }

  /**
   * Stops reading: the peer has not read the answers to {@code maxPendingSends} or more of its
   * requests and messages, so reading more of them would only queue more answers. The peer's socket
   * fills and its sends slow down, as a flood of messages does (DESIGN.md, "Backpressure";
   * docs/decisions.md, "A peer that does not read its answers stops being read"). Event loop only.
   */
  private void pauseForBacklog() {
    backlogPaused = true;
    applyAutoRead();
    backlogPauses.lazySet(backlogPauses.get() + 1);
    // A send that ended meanwhile on another thread may have missed the flag: look again.
    resumeAfterBacklog();
  }

  /** Reads again once fewer than {@code maxPendingSends} sends wait; event loop only. */
  private void resumeAfterBacklog() {
    if (backlogPaused && pending.get() < maxPendingSends) {
      backlogPaused = false;
      applyAutoRead();
    }
  }

  /** Reading is on unless the prefetch or the backlog holds it off; event loop only. */
  private void applyAutoRead() {
    channel.config().setAutoRead(!readPaused && !backlogPaused);
  }

  /**
   * Waits for a dispatch that did not complete at once: logs its error, if any, and lets the frames
   * after it go on the event loop, once.
   */
  private final class DispatchResume implements CoreSubscriber<Void>, Runnable {

    private final Object frame;
    private boolean resumed;

    DispatchResume(Object frame) {
      this.frame = frame;
    }

    @Override
    public void onSubscribe(Subscription s) {
      s.request(Long.MAX_VALUE);
    }

    @Override
    public void onNext(Void unused) {
      // Mono<Void> carries no value.
    }

    @Override
    public void onError(Throwable t) {
      dispatchFailed(frame, t);
      onComplete();
    }

    @Override
    public void onComplete() {
      onEventLoop(this);
    }

    @Override
    public void run() {
      if (!resumed) {
        resumed = true;
        resumeInbound();
      }
    }
  }

  private Mono<Void> onFrame(Object message) {
    processedCount.lazySet(++processed);
    if (aborted) {
      InboundFrame.releaseDropped(message);
      return Mono.empty();
    }
    // The busiest frames come decoded by hand (PeerFrameDecoder), everything else as protobuf.
    if (message instanceof InboundRequest request) {
      if (!handshakeDone) {
        request.release();
        return expectedHello(PeerFrame.BodyCase.REQUEST);
      }
      lastRequestStreamId = Math.max(lastRequestStreamId, request.streamId());
      return dispatch(message);
    }
    if (message instanceof InboundResponse || message instanceof InboundData) {
      if (!handshakeDone) {
        InboundFrame.releaseDropped(message);
        return expectedHello(InboundFrame.kindOf(message));
      }
      return dispatch(message);
    }
    PeerFrame frame = (PeerFrame) message;
    if (!handshakeDone) {
      return onHandshakeFrame(frame);
    }
    switch (frame.getBodyCase()) {
      case PING -> {
        // After what arrived before it has been handled, without holding the frames after it.
        PeerFrame pong = PeerFrames.pong(frame.getPing());
        Mono<Void> before = transport.dispatcher().handled(this);
        if (before == Mono.<Void>empty()) {
          enqueueInternal(pong);
        } else {
          before.subscribe(null, e -> enqueueInternal(pong), () -> enqueueInternal(pong));
        }
        return Mono.empty();
      }
      case PONG -> {
        onPong(frame.getPong());
        return Mono.empty();
      }
      case HELLO -> {
        abort(StatusCode.FAILED_PRECONDITION, "a second Hello");
        return Mono.empty();
      }
      case TICKET_RENEWAL -> {
        return onTicketRenewal(frame.getTicketRenewal().getTicket());
      }
      case GO_AWAY -> {
        onGoAway(frame.getGoAway());
        return dispatch(frame);
      }
      case STREAM_OPEN -> {
        lastRequestStreamId = Math.max(lastRequestStreamId, frame.getStreamOpen().getStreamId());
        return dispatch(frame);
      }
      case BODY_NOT_SET -> {
        // A frame kind from a newer protocol, or an empty frame: nothing to do.
        return Mono.empty();
      }
      default -> {
        return dispatch(frame);
      }
    }
  }

  /**
   * Takes a peer's renewed ticket, or refuses the connection if it does not hold; like a {@code
   * Hello}'s, a ticket signed by a key this mesh does not know yet is checked again after an early
   * renewal of this mesh's own.
   */
  private Mono<Void> onTicketRenewal(PeerTicket ticket) {
    PeerTickets tickets = transport.config().tickets();
    TicketClaims before = peerTicket;
    if (tickets == null || before == null) {
      return Mono.empty(); // this mesh does not check tickets
    }
    if (checkRenewal(ticket, tickets, before, true)) {
      return Mono.empty();
    }
    return afterRefresh(tickets, () -> checkRenewal(ticket, tickets, before, false));
  }

  private boolean checkRenewal(
      PeerTicket ticket, PeerTickets tickets, TicketClaims before, boolean mayRefresh) {
    if (aborted) {
      return true;
    }
    try {
      peerTicket = tickets.checkRenewal(ticket, before);
    } catch (Tickets.InvalidTicketException e) {
      if (mayRefresh && e.untrustedIssuer()) {
        return false;
      }
      refuseTicket(e, "Closing {}: its renewed ticket does not hold: {}");
    }
    return true;
  }

  /** Sends this mesh's renewed ticket to the peer, after the {@code Hello}s. Any thread. */
  void ticketRenewed(@Nullable PeerTicket ticket) {
    if (ticket == null || lifecycle == CLOSED) {
      return;
    }
    sentTicket = ticket;
    enqueueInternal(PeerFrames.ticketRenewal(ticket));
  }

  @Override
  public @Nullable Status refusal(ServiceUrl source) {
    TicketClaims claims = peerTicket;
    if (claims == null) {
      return null;
    }
    if (System.currentTimeMillis() >= claims.getExpiresAtMillis()) {
      return Status.newBuilder()
          .setCode(StatusCode.UNAUTHENTICATED)
          .setMessage(
              "the peer ticket of "
                  + this
                  + " (app "
                  + claims.getAppId()
                  + ") has expired and was not renewed")
          .build();
    }
    if (!source.appId().equals(claims.getAppId())) {
      return Status.newBuilder()
          .setCode(StatusCode.PERMISSION_DENIED)
          .setMessage(
              "source "
                  + source
                  + " is not in app "
                  + claims.getAppId()
                  + ", the app this connection's peer ticket vouches for")
          .build();
    }
    return null;
  }

  private void onGoAway(GoAway goAway) {
    remoteGoingAway = true;
    if (goAway.getStatus().getCode() == StatusCode.OK) {
      log.debug("{}: the peer is going away", this);
    } else {
      log.warn(
          "{}: the peer is closing the connection: {} {}",
          this,
          goAway.getStatus().getCode(),
          goAway.getStatus().getMessage());
    }
    transport.onRemoteGoAway(this);
  }

  private Mono<Void> dispatch(Object frame) {
    Mono<Void> done;
    try {
      done = transport.dispatcher().dispatch(new InboundFrame(frame, this));
    } catch (Throwable t) {
      Exceptions.throwIfJvmFatal(t);
      dispatchFailed(frame, t);
      return Mono.empty();
    }
    if (done == Mono.<Void>empty()) {
      return done; // the common case: handled at once
    }
    if (done == null) {
      dispatchFailed(frame, new NullPointerException("the dispatcher returned null"));
      return Mono.empty();
    }
    if (done instanceof Fuseable.ScalarCallable<?> scalar) {
      // Mono.empty(), Mono.error(...): settled already; no subscription, no thread question.
      try {
        scalar.call();
      } catch (Throwable t) {
        Exceptions.throwIfJvmFatal(t);
        dispatchFailed(frame, Exceptions.unwrap(t));
      }
      return Mono.empty();
    }
    return done;
  }

  void dispatchFailed(Object frame, Throwable error) {
    log.warn(
        "The dispatcher failed on a "
            + InboundFrame.kindOf(frame)
            + " frame from "
            + this
            + "; going on",
        error);
  }

  // ---------------------------------------------------------------------------------------------
  // Ping

  private void startPing(MonoSink<Duration> sink) {
    if (lifecycle == CLOSED) {
      sink.error(closeError());
      return;
    }
    long sequence = pingSequence.incrementAndGet();
    long sentNanos = System.nanoTime();
    pings.put(sequence, new PendingPing(sink, sentNanos));
    sink.onDispose(() -> pings.remove(sequence));
    enqueueInternal(PeerFrames.ping(sequence, sentNanos));
    if (lifecycle == CLOSED) {
      failPings();
    }
  }

  private void onPong(Pong pong) {
    PendingPing ping = pings.remove(pong.getSequence());
    if (ping != null) {
      ping.sink.success(Duration.ofNanos(Math.max(1, System.nanoTime() - ping.sentNanos)));
    }
  }

  private void failPings() {
    for (Long sequence : pings.keySet()) {
      PendingPing ping = pings.remove(sequence);
      if (ping != null) {
        ping.sink.error(closeError());
      }
    }
  }

  private record PendingPing(MonoSink<Duration> sink, long sentNanos) {}

  // ---------------------------------------------------------------------------------------------
  // Outbound: queueing

  void subscribeSend(OutboundFrame frame, CoreSubscriber<? super Void> actual) {
    PendingSend send = new PendingSend(this, frame, actual);
    int waiting = pending.incrementAndGet();
    actual.onSubscribe(send);
    if (waiting > maxPendingSends && frame.startsWork()) {
      // Bounded: a sender that outruns the socket hears it at once instead of piling up.
      refusedSends.incrementAndGet();
      send.fail(
          new OverloadedException(
              this
                  + ": "
                  + maxPendingSends
                  + " sends wait for the socket already (maxPendingSends)"));
      return;
    }
    SkymeshException refused = refusal(frame);
    if (refused != null) {
      send.fail(refused);
      return;
    }
    int size = frame.bodyLength();
    if (size > maxFrameLength) {
      send.fail(
          new OverloadedException(
              "frame of "
                  + size
                  + " bytes is over the maximum of "
                  + maxFrameLength
                  + " for "
                  + this));
      return;
    }
    enqueue(send);
  }

  /** Why a frame cannot be sent now, or null if it can. */
  private SkymeshException refusal(OutboundFrame frame) {
    int state = lifecycle;
    if (state == CLOSED) {
      return closeError();
    }
    if (frame.startsWork()) {
      if (state == DRAINING) {
        return closeError();
      }
      if (remoteGoingAway) {
        return new PeerUnavailableException(this + " is going away: it sent GoAway");
      }
    }
    return null;
  }

  /** Queues a frame of the transport's own (Hello, Pong, Ping, GoAway) or the close marker. */
  private void enqueueInternal(@Nullable PeerFrame frame) {
    PendingSend send = new PendingSend(this, frame == null ? null : OutboundFrame.of(frame), null);
    pending.incrementAndGet();
    if (lifecycle == CLOSED) {
      send.fail(closeError());
      return;
    }
    enqueue(send);
  }

  private void enqueue(PendingSend send) {
    queue.offer(send);
    if (wip.getAndIncrement() == 0) {
      // Through the task queue, even on the event loop: sends made while handling a batch of
      // reads then leave together after it...
      try {
        channel.eventLoop().execute(drainTask);
      } catch (RejectedExecutionException e) {
        send.fail(closeError());
      }
    } else if (channel.eventLoop().inEventLoop() && ++queuedOnLoop >= eagerDrainFrames) {
      // ...but not all of them: the peer starts on the first ones while this loop still reads.
      // Leaving them all to one flush after a long batch of reads made the two ends take turns,
      // each idle while the other worked (benchmarks/README.md, "Taking turns").
      drain();
    }
  }

  /** Schedules a drain with nothing new queued (held frames the handshake now lets out). */
  private void kick() {
    if (wip.getAndIncrement() == 0) {
      try {
        channel.eventLoop().execute(drainTask);
      } catch (RejectedExecutionException e) {
        channel.close();
      }
    }
  }

  /**
   * Whether a frame may be written now: before this side's {@code Hello} is written and the peer's
   * has arrived, only a {@code Hello} (or the {@code GoAway} that refuses the connection) may. A
   * peer refuses any other frame first ("expected Hello first"), and a probe or a reply can ask for
   * one at any time.
   */
  private boolean mayWrite(OutboundFrame frame) {
    return (helloWritten && handshakeDone)
        || frame.kind() == PeerFrame.BodyCase.HELLO
        || frame.kind() == PeerFrame.BodyCase.GO_AWAY;
  }

  /** The next send to write: held ones first, once the handshake lets them out. */
  private PendingSend nextSend() {
    if (!held.isEmpty() && helloWritten && handshakeDone) {
      return held.poll();
    }
    return queue.poll();
  }

  void sendDone() {
    if (pending.decrementAndGet() < maxPendingSends && backlogPaused) {
      if (channel.eventLoop().inEventLoop()) {
        resumeAfterBacklog();
      } else {
        try {
          channel.eventLoop().execute(resumeAfterBacklogTask);
        } catch (RejectedExecutionException e) {
          // The loop is shutting down, and the connection with it.
        }
      }
    }
  }

  void internalSendFailed(@Nullable OutboundFrame frame, Throwable error) {
    if (frame != null) {
      log.debug("{}: could not send {}: {}", this, frame.kind(), error.toString());
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Outbound: the drain, on the event loop

  private void drain() {
    if (draining) {
      again = true;
      return;
    }
    draining = true;
    framesThisTurn = 0;
    queuedOnLoop = 0;
    try {
      int missed = wip.get();
      for (; ; ) {
        again = false;
        int result = writeQueued();
        if (again) {
          continue;
        }
        if (result == WRITE_BLOCKED) {
          // Keep wip above zero: producers need not wake the loop; the write that completes or
          // the channel turning writable will.
          return;
        }
        if (result == WRITE_YIELD) {
          // Let the loop serve other channels; wip stays above zero until the task runs.
          try {
            channel.eventLoop().execute(drainTask);
          } catch (RejectedExecutionException e) {
            channel.close();
          }
          return;
        }
        missed = wip.addAndGet(-missed);
        if (missed == 0) {
          return;
        }
      }
    } catch (Throwable t) {
      Exceptions.throwIfJvmFatal(t);
      failInternally(t);
    } finally {
      draining = false;
    }
  }

  /**
   * A bug or an environment failure (an allocator refusing, say) in the outbound path: the
   * connection cannot be trusted to keep its order any more, so it closes, and every pending send
   * fails with the cause rather than waiting for ever.
   */
  private void failInternally(Throwable error) {
    log.error("Closing " + this + " after an internal error in the outbound path", error);
    if (closeError == null) {
      closeError =
          new PeerUnavailableException(this + ": internal error: " + error.getMessage(), error);
    }
    lifecycle = CLOSED;
    channel.close();
  }

  private int writeQueued() {
    WriteBatch batch = null;
    PendingSend inHand = null;
    boolean wrote = false;
    int result = WRITE_EMPTY;
    try {
      for (; ; ) {
        if (closeRequested || lifecycle == CLOSED) {
          failQueued(closeError());
          break;
        }
        if (inSocket >= outboundLimit || !channel.isWritable()) {
          result = WRITE_BLOCKED;
          break;
        }
        if (framesThisTurn >= MAX_FRAMES_PER_TURN) {
          result = WRITE_YIELD;
          break;
        }
        PendingSend send = nextSend();
        if (send == null) {
          break;
        }
        OutboundFrame frame = send.frame;
        if (frame == null) {
          closeRequested = true;
          continue;
        }
        if (!mayWrite(frame)) {
          // Still queued as far as its sender knows: a cancel withdraws it, a close fails it.
          held.add(send);
          continue;
        }
        if (!send.start()) {
          continue;
        }
        inHand = send;
        if (goAwayWritten && frame.startsWork()) {
          inHand = null;
          send.written(closeError());
          continue;
        }
        int bodyLength = frame.bodyLength();
        int frameBytes = Frames.LENGTH_FIELD_LENGTH + bodyLength;
        if (batch != null && !batch.hasRoom(frameBytes)) {
          wrote |= writeBatch(batch);
          batch = null;
        }
        if (batch == null) {
          batch = WriteBatch.allocate(this, ctx.alloc(), batchCapacity(frameBytes));
        }
        try {
          batch.add(send, frame, bodyLength);
        } catch (IOException | RuntimeException e) {
          // Only a message that changes while it is serialized gets here; the batch is unusable.
          dropBatch(batch, new OverloadedException(this + ": cannot encode a frame", e));
          batch = null;
          inHand = null;
          send.written(new OverloadedException(this + ": cannot encode the frame", e));
          continue;
        }
        inHand = null;
        inSocket++;
        framesThisTurn++;
        if (frame.kind() == PeerFrame.BodyCase.GO_AWAY) {
          goAwayWritten = true;
        } else if (frame.kind() == PeerFrame.BodyCase.HELLO) {
          helloWritten = true;
        }
      }
      if (batch != null) {
        wrote |= writeBatch(batch);
        batch = null;
      }
    } catch (Throwable t) {
      // Something unexpected (an allocator failing, a bug): fail the sends taken but not written,
      // make sure what was written does not sit unflushed, and let drain() close the connection.
      PeerUnavailableException error =
          new PeerUnavailableException(this + ": internal error: " + t.getMessage(), t);
      if (inHand != null) {
        inHand.written(error);
      }
      if (batch != null) {
        dropBatch(batch, error);
      }
      if (wrote) {
        ctx.flush();
      }
      throw t;
    }
    // Set before the flush: writes that complete inside it re-enter drain() through `again`.
    blocked = result == WRITE_BLOCKED;
    if (stallCheck == null && (wrote || blocked)) {
      armWriteStallCheck();
    }
    if (wrote) {
      ctx.flush();
    }
    closeIfRequestedAndWritten();
    return result;
  }

  /**
   * The buffer for a batch that starts with a frame of {@code frameBytes}: {@value #BATCH_BYTES}
   * bytes, or, when that would not hold an eager drain's worth of such frames, as much as the sends
   * waiting would fill (up to {@value #LARGEST_BATCH_BYTES}), so that they leave in one buffer
   * rather than several. A buffer is never much larger than what waits to fill it.
   */
  private int batchCapacity(int frameBytes) {
    if ((long) frameBytes * eagerDrainFrames <= BATCH_BYTES) {
      return BATCH_BYTES;
    }
    // Queued or writing, less those in the socket: the sends not yet in a buffer, this one
    // included.
    long waitingBytes = (long) frameBytes * Math.max(1, pending.get() - inSocket);
    return (int)
        Math.max(frameBytes, Math.min(LARGEST_BATCH_BYTES, Math.max(BATCH_BYTES, waitingBytes)));
  }

  /** Writes a batch's buffer, unflushed; false (and nothing written) if the batch is empty. */
  private boolean writeBatch(WriteBatch batch) {
    if (batch.isEmpty()) {
      batch.releaseBuffer();
      return false;
    }
    ChannelPromise promise = ctx.newPromise();
    ByteBuf buffer;
    try {
      buffer = batch.takeBuffer();
    } catch (IOException | RuntimeException e) {
      dropBatch(batch, new OverloadedException(this + ": cannot encode a frame", e));
      return false;
    }
    // From here the batch's sends are the promise's: it completes them, written or failed.
    promise.addListener(batch);
    batchCount.lazySet(++batches);
    frameCount.lazySet(frames += batch.count());
    ctx.write(buffer, promise);
    return true;
  }

  private void dropBatch(WriteBatch batch, Throwable error) {
    batch.releaseBuffer();
    inSocket -= batch.count();
    batch.fail(error);
  }

  private void failQueued(SkymeshException error) {
    PendingSend send;
    while ((send = held.poll()) != null) {
      send.fail(error);
    }
    while ((send = queue.poll()) != null) {
      send.fail(error);
    }
  }

  /** A batch's write finished: its frames leave the socket's share of the queue. */
  void batchWritten(int frames) {
    inSocket -= frames;
    batchesDone++;
  }

  // ---------------------------------------------------------------------------------------------
  // Write stalls

  /**
   * Frames were handed to the socket, or wait for room in it: checks after {@code
   * writeStallTimeout} whether any of their bytes were written meanwhile. One check at a time, so a
   * busy connection schedules one task per timeout, and an idle one none.
   */
  private void armWriteStallCheck() {
    if (writeStallNanos == 0 || lifecycle == CLOSED) {
      return;
    }
    ChannelOutboundBuffer out = channel.unsafe().outboundBuffer();
    batchesDoneAtCheck = batchesDone;
    currentAtCheck = out == null ? null : out.current();
    progressAtCheck = out == null ? 0 : out.currentProgress();
    try {
      stallCheck =
          channel.eventLoop().schedule(stallCheckTask, writeStallNanos, TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      // The loop is shutting down, and the connection with it.
    }
  }

  /**
   * Closes the connection if frames still wait in or for the socket and not one byte was written
   * since the check was armed: the peer reads nothing (its process stopped, the network gone, or it
   * waits for this side to read: docs/decisions.md, "A peer that does not read its answers stops
   * being read"). The close fails every waiting send, so that their senders learn it now rather
   * than when TCP gives up. Progress, however slow, arms the next check.
   */
  private void checkWriteStall() {
    stallCheck = null;
    if (lifecycle == CLOSED || !channel.isActive() || (inSocket == 0 && !blocked)) {
      // Nothing waits: the next write arms the next check.
      return;
    }
    ChannelOutboundBuffer out = channel.unsafe().outboundBuffer();
    boolean progressed =
        batchesDone != batchesDoneAtCheck
            || out == null
            || out.current() != currentAtCheck
            || out.currentProgress() != progressAtCheck;
    if (progressed) {
      armWriteStallCheck();
      return;
    }
    closedByWriteStall = true;
    String message =
        "the peer read nothing for "
            + transport.config().writeStallTimeout()
            + " while "
            + pending.get()
            + " sends waited for the socket (writeStallTimeout)";
    log.warn("Closing {}: {}", this, message);
    closeNow(new PeerUnavailableException(this + ": " + message), null);
  }

  /** After a batch's sends were told: resume a drain that waited for room, or finish a close. */
  void afterBatchWritten() {
    if (closeRequested) {
      closeIfRequestedAndWritten();
    } else if (blocked) {
      drain();
    }
  }

  private void closeIfRequestedAndWritten() {
    if (closeRequested && inSocket == 0 && channel.isOpen()) {
      ctx.close();
    }
  }

  Throwable writeFailure(Throwable cause) {
    if (lifecycle != OPEN || closeError != null) {
      return closeError();
    }
    return new PeerUnavailableException(
        this + ": the connection failed before the frame was written", cause);
  }

  // ---------------------------------------------------------------------------------------------
  // Closing

  /**
   * Closes gracefully: refuses new {@code Data} and {@code Request} frames, sends {@code
   * GoAway(OK)} after what is queued, then a {@code Ping}; its {@code Pong} proves the peer has
   * dispatched everything sent before, and that everything it sent before has been dispatched here.
   * Then the connection closes once every queued frame is written. At {@code timeout} it closes
   * anyway.
   */
  Mono<Void> closeGracefully(Duration timeout, SkymeshException reason) {
    Mono<Void> drain =
        Mono.<Boolean>create(sink -> onEventLoop(() -> sink.success(beginGoAway(reason))))
            .flatMap(
                graceful ->
                    graceful
                        ? ping().then().onErrorResume(e -> Mono.empty())
                        : Mono.<Void>fromRunnable(() -> closeNow(reason, null)))
            .then(Mono.fromRunnable(() -> enqueueInternal(null)))
            .then(onClose());
    return drain.timeout(
        timeout,
        Mono.defer(
            () -> {
              closeNow(reason, null);
              return onClose();
            }));
  }

  private boolean beginGoAway(SkymeshException reason) {
    if (lifecycle != OPEN) {
      return lifecycle == DRAINING;
    }
    if (!handshakeDone) {
      return false;
    }
    closeError = reason;
    lifecycle = DRAINING;
    // Every request received so far will still be answered; the peer starts no new ones.
    enqueueInternal(PeerFrames.goAway(StatusCode.OK, "going away", lastRequestStreamId));
    return true;
  }

  /**
   * Sends {@code GoAway(OK)} after what is queued and refuses new {@code Data} and {@code Request}
   * sends with {@code reason}, but keeps the connection open, so that responses to requests in
   * flight still go. Completes once the GoAway is queued.
   */
  Mono<Void> goAway(SkymeshException reason) {
    return Mono.create(
        sink ->
            onEventLoop(
                () -> {
                  if (!beginGoAway(reason) && lifecycle == OPEN) {
                    // Still in its handshake: nothing to drain, nothing to say.
                    closeNow(reason, null);
                  }
                  sink.success();
                }));
  }

  /**
   * Closes at once: fails what is queued with {@code reason}, writes {@code lastWords} if given,
   * best effort, and closes the channel.
   */
  void closeNow(SkymeshException reason, PeerFrame lastWords) {
    onEventLoop(
        () -> {
          if (closeError == null) {
            closeError = reason;
          }
          lifecycle = CLOSED;
          handshake.tryEmitError(closeError());
          // Unread bytes, a frame cut in two among them, are this side's choice, not the peer's.
          FrameDecoder<?> decoder = ctx.pipeline().get(FrameDecoder.class);
          if (decoder != null) {
            decoder.closingHere();
          }
          if (lastWords != null && channel.isActive()) {
            ctx.writeAndFlush(Frames.encode(ctx.alloc(), lastWords, Frames.MAX_FRAME_LENGTH_LIMIT));
          }
          ctx.close();
          drain();
        });
  }

  /** A protocol violation by the peer: last words, then close. */
  private void abort(StatusCode code, String message) {
    if (lifecycle == CLOSED) {
      return;
    }
    aborted = true;
    if (code == StatusCode.UNAVAILABLE) {
      log.debug("Closing {}: {}", this, message);
    } else {
      log.warn("Closing {}: {}", this, message);
    }
    closeNow(new PeerUnavailableException(this + ": " + message), PeerFrames.goAway(code, message));
  }

  private void onClosed() {
    lifecycle = CLOSED;
    if (handshakeTimer != null) {
      handshakeTimer.cancel(false);
      handshakeTimer = null;
    }
    if (stallCheck != null) {
      stallCheck.cancel(false);
      stallCheck = null;
    }
    SkymeshException error = closeError();
    handshake.tryEmitError(error);
    drain();
    failPings();
    transport.onChannelClosed(this);
    closed.tryEmitEmpty();
    log.debug("{}: closed", this);
  }

  private SkymeshException closeError() {
    SkymeshException error = closeError;
    if (error == null) {
      error = new PeerUnavailableException(this + ": the connection is closed");
      closeError = error;
    }
    return error;
  }

  /** Whether the channel has an event loop yet (a dialed channel gets one as it connects). */
  boolean isRegistered() {
    return channel.isRegistered();
  }

  private void onEventLoop(Runnable task) {
    EventLoop loop = channel.eventLoop();
    if (loop.inEventLoop()) {
      task.run();
    } else {
      try {
        loop.execute(task);
      } catch (RejectedExecutionException e) {
        channel.close();
      }
    }
  }
}

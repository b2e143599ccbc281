package io.skymesh.nameserver.client;

import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.util.AttributeKey;
import io.skymesh.codec.FrameDecoder;
import io.skymesh.codec.FrameEncoder;
import io.skymesh.codec.FrameException;
import io.skymesh.codec.FrameTooLargeException;
import io.skymesh.codec.Frames;
import io.skymesh.codec.Tls;
import io.skymesh.core.exceptions.MeshClosedException;
import io.skymesh.core.exceptions.MeshTimeoutException;
import io.skymesh.core.exceptions.OverloadedException;
import io.skymesh.core.exceptions.PeerUnavailableException;
import io.skymesh.core.exceptions.SkymeshException;
import io.skymesh.core.exceptions.Statuses;
import io.skymesh.proto.Ack;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.Status;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.reactivestreams.Subscription;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;
import reactor.core.Exceptions;
import reactor.core.publisher.BaseSubscriber;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;
import reactor.netty.Connection;
import reactor.netty.NettyPipeline;
import reactor.netty.resources.LoopResources;
import reactor.netty.tcp.TcpClient;
import reactor.util.concurrent.Queues;

/**
 * One TCP connection to a name server, speaking the name-server protocol of {@code
 * nameserver.proto}: every request gets a request id and exactly one answer, unsolicited watch
 * events go to their owner in order, and the end of the connection has a reason.
 *
 * <p>It is the transport, not the session: the owner sends {@code OpenSession} and {@code
 * KeepAlive} like any other request, and decides what a lost connection means (the mesh fails over
 * to another node, the admin CLI exits).
 *
 * <ul>
 *   <li>{@link #request} sends a request and gives its {@link Ack}, or fails with the typed
 *       exception {@link Statuses} maps the answer's status to. {@link #exchange} gives the answer
 *       frame as it came, {@code Ack} or {@code Error}.
 *   <li>Requests are pipelined: nothing waits for an earlier answer, so a caller that subscribes to
 *       many requests at once has them all on the wire together (writes are flushed in batches).
 *   <li>Every waiting request ends: with its answer, at its deadline if it has one ({@link
 *       MeshTimeoutException}), or when the connection closes ({@link MeshClosedException} after
 *       {@link #dispose()}, {@link PeerUnavailableException} otherwise, carrying the reason).
 *   <li>Watch and KV watch events go, in the order they arrived, either to the handler given to
 *       {@link Builder#onEvent} (called on the connection's event loop) or into {@link #events()},
 *       which holds at most {@link Builder#eventBufferSize} events its subscriber has not taken:
 *       one more closes the connection with an {@link OverloadedException}, which the subscriber
 *       receives after the events before it, and {@link #onClose()} too. Nothing is dropped
 *       silently.
 *   <li>The connection ends when its owner disposes it, when the name server ends the session (an
 *       {@code Error} with request id 0), when the server closes it, or when the server sends a
 *       frame that does not decode; {@link #onClose()} tells which.
 * </ul>
 *
 * <pre>{@code
 * NameServerConnection connection =
 *     NameServerConnection.builder("127.0.0.1", 9099).onEvent(watches::route).connect().block();
 * connection.request(openSession, "open session", Duration.ofSeconds(5))
 *     .flatMap(opened -> connection.request(register, url));
 * }</pre>
 *
 * <p>Threading: every method may be called from any thread and none blocks. Frames are read and
 * dispatched on the connection's event loop: answers complete there, and the event handler and the
 * frame observer run there and must not block.
 */
public final class NameServerConnection implements Disposable {

  private static final Logger log = LoggerFactory.getLogger(NameServerConnection.class);

  private static final String DECODER_NAME = "skymesh.frameDecoder";
  private static final String ENCODER_NAME = "skymesh.frameEncoder";
  private static final String HANDLER_NAME = "skymesh.nameServerConnection";
  private static final String FLUSH_NAME = "skymesh.flushConsolidation";

  private static final AttributeKey<NameServerConnection> OWNER =
      AttributeKey.valueOf(NameServerConnection.class, "owner");

  /** Flushes outside a read wait for the end of the event loop's turn, or for this many writes. */
  private static final int FLUSH_AFTER_WRITES = 256;

  private final String address;
  private final Channel channel;
  private final Scheduler timer;
  private final Consumer<? super NameServerFrame> eventHandler;
  private final Consumer<? super NameServerFrame> frameObserver;
  private final int eventBufferSize;

  private final AtomicLong requestIds = new AtomicLong();
  private final Map<Long, Sinks.One<NameServerFrame>> pending = new ConcurrentHashMap<>();
  private final AtomicLong ignoredFrames = new AtomicLong();
  private final SnapshotAssembler snapshots = new SnapshotAssembler();

  private final Sinks.Many<NameServerFrame> events =
      Sinks.many().unicast().onBackpressureBuffer(Queues.<NameServerFrame>unbounded().get());
  private final AtomicInteger bufferedEvents = new AtomicInteger();

  /** Set once, when the connection starts closing; {@link Closing#reason} null: by its owner. */
  private final AtomicReference<Closing> closing = new AtomicReference<>();

  private final Sinks.Empty<Void> closed = Sinks.empty();
  private volatile Connection connection;
  private boolean finished; // event loop only

  private NameServerConnection(Builder builder, Channel channel) {
    this.address = builder.address();
    this.channel = channel;
    this.timer = builder.timer;
    this.eventHandler = builder.eventHandler;
    this.frameObserver = builder.frameObserver;
    this.eventBufferSize = builder.eventBufferSize;
  }

  /**
   * Starts configuring a connection to the name server at {@code host:port}.
   *
   * @param host the host name or address
   * @param port the port, 1 to 65535
   * @return a builder; {@link Builder#connect()} connects
   */
  public static Builder builder(String host, int port) {
    return new Builder(host, port);
  }

  /** The name server's address, {@code host:port}, as this connection names it in its errors. */
  public String address() {
    return address;
  }

  /**
   * Sends a request and gives its Ack. Equivalent to {@code request(request, "")}.
   *
   * @param request the request; its request id is chosen here
   * @return the Ack, or the typed error of the answer or of the connection
   */
  public Mono<Ack> request(NameClientFrame.Builder request) {
    return request(request, "");
  }

  /**
   * Sends a request and gives its Ack, with no deadline: it waits until its answer comes or the
   * connection closes.
   *
   * @param request the request; its request id is chosen here (the builder is not changed)
   * @param context what the request is about, put in front of error messages (a ServiceUrl, a key);
   *     empty for none
   * @return the Ack, or the typed error of the answer (as {@link Statuses#toException(Status,
   *     String)} maps it) or of the connection
   */
  public Mono<Ack> request(NameClientFrame.Builder request, String context) {
    Objects.requireNonNull(request, "request");
    Objects.requireNonNull(context, "context");
    return toAck(send(request, context, null), context);
  }

  /**
   * Sends a request and gives its Ack, or fails with {@link MeshTimeoutException} if no answer has
   * come within {@code deadline} of subscribing. That exception's cause is a {@link
   * TimeoutException}, which tells it from an {@code Error} answer of status {@code
   * DEADLINE_EXCEEDED}. The connection stays open after a deadline; an answer that comes later is
   * ignored (counted in {@link #ignoredFrames()}).
   *
   * @param request the request; its request id is chosen here (the builder is not changed)
   * @param context what the request is about, put in front of error messages; empty for none
   * @param deadline how long to wait for the answer; positive
   * @return the Ack, or the typed error of the answer, the deadline or the connection
   */
  public Mono<Ack> request(NameClientFrame.Builder request, String context, Duration deadline) {
    Objects.requireNonNull(request, "request");
    Objects.requireNonNull(context, "context");
    return toAck(send(request, context, checkDeadline(deadline)), context);
  }

  /**
   * Sends a request and gives its answer frame as it came, {@code Ack} or {@code Error}, for owners
   * that map the answer themselves. Fails only for the connection: closed, or lost.
   *
   * @param request the request; its request id is chosen here (the builder is not changed)
   * @return the answer
   */
  public Mono<NameServerFrame> exchange(NameClientFrame.Builder request) {
    Objects.requireNonNull(request, "request");
    return send(request, "", null);
  }

  /**
   * Sends a request and gives its answer frame as it came, or fails with {@link
   * MeshTimeoutException} if none has come within {@code deadline} of subscribing.
   *
   * @param request the request; its request id is chosen here (the builder is not changed)
   * @param deadline how long to wait for the answer; positive
   * @return the answer
   */
  public Mono<NameServerFrame> exchange(NameClientFrame.Builder request, Duration deadline) {
    Objects.requireNonNull(request, "request");
    return send(request, "", checkDeadline(deadline));
  }

  /**
   * The watch and KV watch events, in the order they arrived, when no {@linkplain Builder#onEvent
   * event handler} was given. Events wait here for the subscriber, at most {@link
   * Builder#eventBufferSize} of them; one more closes the connection with an {@link
   * OverloadedException}. The flux completes when the owner disposes the connection and fails with
   * {@link #onClose()}'s reason otherwise. One subscriber only; events that arrive before it
   * subscribes wait for it (within the bound).
   *
   * @return the events
   */
  public Flux<NameServerFrame> events() {
    if (eventHandler != null) {
      return Flux.error(
          new IllegalStateException("events(): this connection delivers its events to a handler"));
    }
    return events.asFlux().doOnNext(event -> bufferedEvents.decrementAndGet());
  }

  /**
   * Stops reading from the socket until {@link #resumeReading()}: the name server's frames, answers
   * included, wait in the socket buffers and then in the server's own bounded queue, where a
   * watcher that falls too far behind is resynced. Requests made meanwhile wait for their answers
   * (or their deadlines).
   */
  public void pauseReading() {
    channel.eventLoop().execute(() -> channel.config().setAutoRead(false));
  }

  /** Reads from the socket again after {@link #pauseReading()}. */
  public void resumeReading() {
    channel.eventLoop().execute(() -> channel.config().setAutoRead(true));
  }

  /** How many requests wait for their answer now. */
  public int pendingRequests() {
    return pending.size();
  }

  /**
   * How many frames matched nothing: answers to requests that no longer wait (past their deadline,
   * or written around this connection through {@link #connection()}), events after the events'
   * subscriber cancelled or after the connection started closing, and frames of a kind this client
   * does not know. Each is logged at debug level.
   */
  public long ignoredFrames() {
    return ignoredFrames.get();
  }

  /**
   * Completes when the connection has closed after {@link #dispose()}; fails with the reason when
   * it closed for any other: the server ended the session (the exception {@link Statuses} maps the
   * {@code Error}'s status to), the server closed the connection or it broke ({@link
   * PeerUnavailableException}, with the cause), the server sent a frame that does not decode
   * ({@link PeerUnavailableException} caused by the codec's {@link FrameException}), the events'
   * subscriber fell behind ({@link OverloadedException}), or {@link #abort}'s reason. Signals once
   * the channel is closed and every waiting request has failed; late subscribers get the same
   * signal.
   *
   * @return the end of the connection
   */
  public Mono<Void> onClose() {
    return closed.asMono();
  }

  /**
   * Closes the connection because its owner found it failed (an answer past a deadline the owner
   * cannot accept, a fault injected by a test): waiting requests fail with a {@link
   * PeerUnavailableException} caused by {@code reason}, and {@link #onClose()} fails with it. Does
   * nothing if the connection is already closing.
   *
   * @param reason why
   */
  public void abort(SkymeshException reason) {
    closeFor(Objects.requireNonNull(reason, "reason"));
  }

  /**
   * Closes the connection: waiting requests fail with {@link MeshClosedException}, {@link
   * #events()} completes, {@link #onClose()} completes once the channel is closed. Does nothing if
   * the connection is already closing.
   */
  @Override
  public void dispose() {
    closeFor(null);
  }

  /** Whether the connection is closing or closed. */
  @Override
  public boolean isDisposed() {
    return closing.get() != null;
  }

  /**
   * Disposes the connection and completes once it is closed, whatever closed it.
   *
   * @return completes when closed
   */
  public Mono<Void> close() {
    return Mono.defer(
        () -> {
          dispose();
          return onClose().onErrorResume(e -> Mono.empty());
        });
  }

  /**
   * The underlying Reactor Netty connection, for protocol tests that write raw bytes or cut the
   * connection. Frames written through it bypass the request ids: their answers match no request.
   */
  public Connection connection() {
    return connection;
  }

  @Override
  public String toString() {
    return "name-server connection to " + address;
  }

  // ---------------------------------------------------------------------------------------------
  // Requests

  private static Duration checkDeadline(Duration deadline) {
    Objects.requireNonNull(deadline, "deadline");
    if (deadline.isNegative() || deadline.isZero()) {
      throw new IllegalArgumentException("deadline: " + deadline + " (expected: > 0)");
    }
    return deadline;
  }

  private static Mono<Ack> toAck(Mono<NameServerFrame> answer, String context) {
    return answer.flatMap(
        frame ->
            frame.hasAck()
                ? Mono.just(frame.getAck())
                : Mono.error(Statuses.toException(frame.getError().getStatus(), context)));
  }

  private Mono<NameServerFrame> send(
      NameClientFrame.Builder request, String context, Duration deadline) {
    Mono<NameServerFrame> answer = Mono.defer(() -> write(request));
    if (deadline == null) {
      return answer;
    }
    return answer.timeout(
        deadline,
        Mono.error(
            () -> {
              String message =
                  prefix(context) + "no answer from name server " + address + " within " + deadline;
              return new MeshTimeoutException(message, new TimeoutException(message));
            }),
        timer);
  }

  private Mono<NameServerFrame> write(NameClientFrame.Builder request) {
    Closing state = closing.get();
    if (state != null) {
      return Mono.error(state.failure(address));
    }
    long id = requestIds.incrementAndGet();
    NameClientFrame frame = request.clone().setRequestId(id).build();
    Sinks.One<NameServerFrame> answer = Sinks.one();
    pending.put(id, answer);
    state = closing.get();
    if (state != null && pending.remove(id, answer)) {
      return Mono.error(state.failure(address)); // closed while this request was being made
    }
    channel
        .writeAndFlush(frame)
        .addListener(
            future -> {
              if (!future.isSuccess() && pending.remove(id, answer)) {
                answer.tryEmitError(writeFailed(future.cause()));
              }
            });
    return answer.asMono().doFinally(signal -> pending.remove(id, answer));
  }

  private RuntimeException writeFailed(Throwable cause) {
    if (cause instanceof FrameTooLargeException tooLarge) {
      return new OverloadedException(
          "request to name server " + address + " too large: " + tooLarge.getMessage(), tooLarge);
    }
    Closing state = closing.get();
    if (state != null) {
      return state.failure(address);
    }
    return new PeerUnavailableException(
        "could not write to name server " + address + ": " + cause, cause);
  }

  private static String prefix(String context) {
    return context.isEmpty() ? "" : context + ": ";
  }

  // ---------------------------------------------------------------------------------------------
  // Inbound, on the event loop

  private void dispatch(NameServerFrame frame) {
    if (frameObserver != null) {
      frameObserver.accept(frame);
    }
    switch (frame.getBodyCase()) {
      case ACK -> answer(frame.getAck().getRequestId(), frame);
      case ERROR -> {
        long id = frame.getError().getRequestId();
        if (id == 0) {
          Status status = frame.getError().getStatus();
          log.debug("Name server {} ends the session: {}", address, status);
          closeFor(Statuses.toException(status, "name server " + address + " ended the session"));
        } else {
          answer(id, frame);
        }
      }
      case WATCH_EVENT, KV_WATCH_EVENT -> {
        NameServerFrame whole;
        try {
          whole = snapshots.offer(frame);
        } catch (IllegalStateException e) {
          closeFor(
              new PeerUnavailableException(
                  "name server " + address + " broke the protocol: " + e.getMessage(), e));
          return;
        }
        if (whole != null) {
          event(whole);
        }
      }
      default -> {
        // A server speaking a newer protocol, or a bug: not a frame an owner ever asked for.
        ignoredFrames.incrementAndGet();
        log.warn(
            "{}: ignoring a frame of a kind this client does not know: {}",
            this,
            frame.getBodyCase());
      }
    }
  }

  private void answer(long requestId, NameServerFrame frame) {
    Sinks.One<NameServerFrame> answer = pending.remove(requestId);
    if (answer != null) {
      answer.tryEmitValue(frame);
    } else {
      ignore(frame, "an answer to no waiting request");
    }
  }

  private void event(NameServerFrame frame) {
    if (closing.get() != null) {
      ignore(frame, "an event after the connection started closing");
      return;
    }
    if (eventHandler != null) {
      try {
        eventHandler.accept(frame);
      } catch (RuntimeException e) {
        log.warn("The event handler of {} failed; closing it", this, e);
        closeFor(e);
      }
      return;
    }
    if (bufferedEvents.get() >= eventBufferSize) {
      closeFor(
          new OverloadedException(
              "the events of name server "
                  + address
                  + " waited "
                  + eventBufferSize
                  + " deep for their subscriber; connection closed"));
      return;
    }
    bufferedEvents.incrementAndGet();
    if (events.tryEmitNext(frame).isFailure()) {
      bufferedEvents.decrementAndGet();
      ignore(frame, "an event after the events' subscriber cancelled");
    }
  }

  /**
   * Drops a frame its owner no longer waits for (an answer after its deadline, which the caller
   * already heard as a timeout; an event after the owner closed or cancelled), counted in {@link
   * #ignoredFrames()}.
   */
  private void ignore(NameServerFrame frame, String why) {
    ignoredFrames.incrementAndGet();
    log.debug("{}: ignoring {}: {}", this, why, frame.getBodyCase());
  }

  // ---------------------------------------------------------------------------------------------
  // Closing

  /** Starts closing for {@code reason} (null: the owner's close), once; then closes the channel. */
  private void closeFor(Throwable reason) {
    Closing state = new Closing(reason);
    if (closing.compareAndSet(null, state)) {
      pending.forEach(
          (id, answer) -> {
            if (pending.remove(id, answer)) {
              answer.tryEmitError(state.failure(address));
            }
          });
    }
    channel.close();
  }

  /** The channel has closed: every request has failed; the events end and onClose signals. */
  private void finish() {
    if (finished) {
      return;
    }
    finished = true;
    closeFor(new PeerUnavailableException("name server " + address + " closed the connection"));
    Throwable reason = closing.get().reason;
    if (reason == null) {
      events.tryEmitComplete();
      closed.tryEmitEmpty();
    } else {
      events.tryEmitError(reason);
      closed.tryEmitError(reason);
    }
  }

  private void start(Connection connection) {
    this.connection = connection;
    connection.inbound().receiveObject().subscribe(new Reader());
  }

  /** Why the connection closes: null for its owner's close. */
  private record Closing(Throwable reason) {

    /** What a request that cannot have its answer fails with. */
    RuntimeException failure(String address) {
      if (reason == null) {
        return new MeshClosedException("connection to name server " + address + " closed");
      }
      return new PeerUnavailableException(
          "connection to name server " + address + " lost: " + reason.getMessage(), reason);
    }
  }

  /** Takes every frame as it is decoded: the socket is read as fast as frames are dispatched. */
  private final class Reader extends BaseSubscriber<Object> {

    @Override
    protected void hookOnSubscribe(Subscription subscription) {
      subscription.request(Long.MAX_VALUE);
    }

    @Override
    protected void hookOnNext(Object frame) {
      try {
        dispatch((NameServerFrame) frame);
      } catch (RuntimeException e) {
        // A bug here must not leave the connection half alive.
        log.error("Dispatching a frame of {} failed; closing it", NameServerConnection.this, e);
        closeFor(e);
      }
    }

    @Override
    protected void hookOnError(Throwable error) {
      Exceptions.throwIfJvmFatal(error);
      closeFor(
          new PeerUnavailableException(
              "connection to name server " + address + " failed: " + error, error));
    }
  }

  /**
   * Sits after the frame decoder for the channel's whole life: sees the decoder's protocol errors
   * (also a truncation, found as the channel closes, after Reactor Netty's inbound has completed)
   * and the close itself, after the last frame was dispatched.
   */
  private final class Handler extends ChannelInboundHandlerAdapter {

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      if (connection == null) {
        // Still connecting (a failed TLS handshake): passed on, so connect() fails with it.
        ctx.fireExceptionCaught(cause);
        return;
      }
      // Handled here, not passed on: the decoder has logged a protocol error and closes the
      // channel; any other error closes it here.
      if (cause instanceof FrameException) {
        closeFor(
            new PeerUnavailableException(
                "name server " + address + " sent a bad frame: " + cause.getMessage(), cause));
      } else {
        log.debug("{}: {}", NameServerConnection.this, cause.toString());
        closeFor(
            new PeerUnavailableException(
                "connection to name server " + address + " failed: " + cause, cause));
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      finish();
      ctx.fireChannelInactive();
    }
  }

  /**
   * How to connect: where, with which limits, and where the events go. Not thread-safe; each {@link
   * #connect()} takes the settings as they are then.
   */
  public static final class Builder {

    private final String host;
    private final int port;
    private SslContext tls;
    private Duration connectTimeout = Duration.ofSeconds(5);
    private int maxFrameLength = Frames.DEFAULT_MAX_FRAME_LENGTH;
    private LoopResources loopResources;
    private Scheduler timer = Schedulers.parallel();
    private int receiveBufferSize;
    private Consumer<? super NameServerFrame> eventHandler;
    private Consumer<? super NameServerFrame> frameObserver;
    private int eventBufferSize = 1024;

    private Builder(String host, int port) {
      Objects.requireNonNull(host, "host");
      if (host.isEmpty()) {
        throw new IllegalArgumentException("host: '' (expected: a host name or address)");
      }
      if (port < 1 || port > 65535) {
        throw new IllegalArgumentException("port: " + port + " (expected: 1..65535)");
      }
      this.host = host;
      this.port = port;
    }

    /**
     * Connects with TLS, with {@code context}: the server must present a certificate the context
     * trusts, for the host connected to (its name or IP address); a client certificate, for mutual
     * TLS, is the context's ({@code SslContextBuilder.keyManager}). A failed handshake fails {@link
     * #connect()} with {@link PeerUnavailableException}. Default: plaintext.
     *
     * @param context a client context ({@code SslContextBuilder.forClient})
     * @return this builder
     * @throws IllegalArgumentException if it is a server context
     */
    public Builder tls(SslContext context) {
      Objects.requireNonNull(context, "context");
      if (context.isServer()) {
        throw new IllegalArgumentException(
            "tls: a server context (expected: one from SslContextBuilder.forClient)");
      }
      this.tls = context;
      return this;
    }

    /**
     * How long the TCP connect may take. Default 5 s.
     *
     * @param timeout positive
     * @return this builder
     */
    public Builder connectTimeout(Duration timeout) {
      Objects.requireNonNull(timeout, "timeout");
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("connectTimeout: " + timeout + " (expected: > 0)");
      }
      this.connectTimeout = timeout;
      return this;
    }

    /**
     * The largest frame body sent or accepted; a larger one from the server closes the connection,
     * a larger request fails with {@link OverloadedException}. Default {@link
     * Frames#DEFAULT_MAX_FRAME_LENGTH}.
     *
     * @param maxFrameLength in bytes
     * @return this builder
     */
    public Builder maxFrameLength(int maxFrameLength) {
      this.maxFrameLength = Frames.checkMaxFrameLength(maxFrameLength);
      return this;
    }

    /**
     * The event loops to run on. Default: Reactor Netty's shared TCP loops.
     *
     * @param loopResources the loops
     * @return this builder
     */
    public Builder runOn(LoopResources loopResources) {
      this.loopResources = Objects.requireNonNull(loopResources, "loopResources");
      return this;
    }

    /**
     * The scheduler that times request deadlines (a virtual-time one in tests). Default {@link
     * Schedulers#parallel()}.
     *
     * @param timer the scheduler
     * @return this builder
     */
    public Builder timer(Scheduler timer) {
      this.timer = Objects.requireNonNull(timer, "timer");
      return this;
    }

    /**
     * The socket's receive buffer ({@code SO_RCVBUF}), in bytes; 0 leaves the system's default.
     * Small values make a paused reader back up quickly, for tests.
     *
     * @param bytes 0 or more
     * @return this builder
     */
    public Builder receiveBufferSize(int bytes) {
      if (bytes < 0) {
        throw new IllegalArgumentException("receiveBufferSize: " + bytes + " (expected: >= 0)");
      }
      this.receiveBufferSize = bytes;
      return this;
    }

    /**
     * Delivers the watch and KV watch events to {@code handler}, in order, on the connection's
     * event loop, instead of into {@link NameServerConnection#events()}. The handler must not block
     * and bounds whatever it keeps itself; if it throws, the connection closes with what it threw.
     *
     * @param handler takes each event frame
     * @return this builder
     */
    public Builder onEvent(Consumer<? super NameServerFrame> handler) {
      this.eventHandler = Objects.requireNonNull(handler, "handler");
      return this;
    }

    /**
     * How many events {@link NameServerConnection#events()} holds for its subscriber before the
     * connection closes with an {@link OverloadedException}. Default 1024.
     *
     * @param size 1 or more
     * @return this builder
     */
    public Builder eventBufferSize(int size) {
      if (size < 1) {
        throw new IllegalArgumentException("eventBufferSize: " + size + " (expected: >= 1)");
      }
      this.eventBufferSize = size;
      return this;
    }

    /**
     * Shows {@code observer} every frame received, in order, before the connection handles it: for
     * protocol tests and diagnostics. Called on the event loop; must not block.
     *
     * @param observer sees each frame
     * @return this builder
     */
    public Builder frameObserver(Consumer<? super NameServerFrame> observer) {
      this.frameObserver = Objects.requireNonNull(observer, "observer");
      return this;
    }

    /**
     * Connects. Lazy: each subscription opens a new connection.
     *
     * @return the connection, or {@link PeerUnavailableException} if the server cannot be reached
     */
    public Mono<NameServerConnection> connect() {
      Builder settings = copy();
      String address = settings.address();
      TcpClient client =
          TcpClient.create()
              .host(settings.host)
              .port(settings.port)
              .option(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT)
              // Reactor Netty's TcpClient leaves Nagle on; requests are small and latency-bound.
              .option(ChannelOption.TCP_NODELAY, true)
              .option(
                  ChannelOption.CONNECT_TIMEOUT_MILLIS,
                  (int)
                      Math.max(1, Math.min(Integer.MAX_VALUE, settings.connectTimeout.toMillis())))
              .doOnChannelInit((observer, channel, remote) -> settings.install(channel));
      if (settings.loopResources != null) {
        client = client.runOn(settings.loopResources);
      }
      if (settings.tls != null) {
        client =
            client.secure(
                spec -> spec.sslContext(settings.tls).handlerConfigurator(Tls::verifyHostname));
      }
      if (settings.receiveBufferSize > 0) {
        client = client.option(ChannelOption.SO_RCVBUF, settings.receiveBufferSize);
      }
      return client
          .connect()
          .onErrorMap(
              e -> !(e instanceof SkymeshException),
              e -> new PeerUnavailableException("name server " + address + " unreachable: " + e, e))
          .map(
              connection -> {
                // An attribute, not the pipeline: a channel closed already has no handlers.
                NameServerConnection owner = connection.channel().attr(OWNER).get();
                owner.start(connection);
                return owner;
              });
    }

    private void install(Channel channel) {
      NameServerConnection owner = new NameServerConnection(this, channel);
      channel.attr(OWNER).set(owner);
      ChannelPipeline pipeline = channel.pipeline();
      pipeline.addFirst(FLUSH_NAME, new FlushConsolidationHandler(FLUSH_AFTER_WRITES, true));
      pipeline.addBefore(
          NettyPipeline.ReactiveBridge,
          DECODER_NAME,
          new FrameDecoder<>(NameServerFrame.parser(), maxFrameLength));
      pipeline.addBefore(NettyPipeline.ReactiveBridge, HANDLER_NAME, owner.new Handler());
      pipeline.addBefore(
          NettyPipeline.ReactiveBridge, ENCODER_NAME, new FrameEncoder(maxFrameLength));
    }

    private Builder copy() {
      Builder copy = new Builder(host, port);
      copy.tls = tls;
      copy.connectTimeout = connectTimeout;
      copy.maxFrameLength = maxFrameLength;
      copy.loopResources = loopResources;
      copy.timer = timer;
      copy.receiveBufferSize = receiveBufferSize;
      copy.eventHandler = eventHandler;
      copy.frameObserver = frameObserver;
      copy.eventBufferSize = eventBufferSize;
      return copy;
    }

    private String address() {
      return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }
  }
}

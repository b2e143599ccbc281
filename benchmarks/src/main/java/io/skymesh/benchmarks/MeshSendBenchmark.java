package io.skymesh.benchmarks;

import com.google.protobuf.ByteString;
import com.google.protobuf.BytesValue;
import com.google.protobuf.Empty;
import com.sun.management.OperatingSystemMXBean;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.shaded.io.netty.channel.epoll.Epoll;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.rsocket.RSocket;
import io.rsocket.SocketAcceptor;
import io.rsocket.core.RSocketConnector;
import io.rsocket.core.RSocketServer;
import io.rsocket.frame.decoder.PayloadDecoder;
import io.rsocket.transport.netty.client.TcpClientTransport;
import io.rsocket.transport.netty.server.CloseableChannel;
import io.rsocket.transport.netty.server.TcpServerTransport;
import io.rsocket.util.ByteBufPayload;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import io.skymesh.nameserver.NameServer;
import io.skymesh.proto.Data;
import io.skymesh.proto.PeerFrame;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.Blackhole;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Operators;
import reactor.netty.resources.LoopResources;
import reactor.util.concurrent.Queues;

/**
 * Fire-and-forget throughput from one process-local endpoint to another over loopback TCP: Skymesh
 * ({@code MeshService.sendTo} between two {@link Mesh} instances, each with its own listener), and,
 * as the peers in the same run, RSocket-java ({@code fireAndForget} over its TCP transport) and
 * gRPC-java (one client-streaming call over grpc-netty-shaded).
 *
 * <p>One invocation sends a batch of {@value #BATCH} messages with a random payload of {@code
 * payloadSize} bytes and returns once the receiver has counted all of them, so the score is
 * messages <em>arrived</em> per second. At most {@code inFlight} messages are in flight, where
 * {@code inFlightUntil} says when a message stops being in flight:
 *
 * <ul>
 *   <li>{@code sent}: until the {@code Mono} of its send completes, with {@code Flux.range(0,
 *       batch).flatMap(i -> send(), inFlight)}. What completion means differs: Skymesh completes
 *       when the frame is written to the socket, RSocket when it is queued on the connection, gRPC
 *       when {@code onNext} has handed it to the call (which this benchmark does only while the
 *       call {@code isReady()}). So for RSocket and gRPC this bounds little: up to a whole batch is
 *       queued at once.
 *   <li>{@code arrived}: until the receiver has counted it. The benchmark thread takes a permit of
 *       a {@code Semaphore(inFlight)} before each send and the receiver returns one per arrival:
 *       the same bound on the wire for all three.
 * </ul>
 *
 * <p>{@code transport} is {@code plain} TCP (the default) or {@code tls}: every side over mutual
 * TLS with the same certificate, protocol, cipher suite and SSL provider, the handshakes made in
 * setup (see {@link Transport}).
 *
 * <p>Each side reuses one immutable payload, as an application sending the same bytes would: a
 * {@code ByteString} for Skymesh, a retained slice of one pooled direct buffer for RSocket
 * (released by RSocket once written), a prebuilt {@code BytesValue} for gRPC. The receivers check
 * each payload's size and release what they are given; teardown checks that exactly the messages
 * sent arrived, that no send failed and that RSocket released every slice, so a broken run fails
 * instead of scoring.
 *
 * <pre>{@code
 * java -jar benchmarks/target/benchmarks.jar MeshSend
 * }</pre>
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class MeshSendBenchmark {

  /** Messages per invocation. */
  static final int BATCH = 4096;

  /** How long one batch, or the start and stop of a side, may take before the run fails. */
  static final Duration TIMEOUT = Duration.ofSeconds(30);

  static final ServiceUrl SINK = ServiceUrl.parse("bench.local.sink/1");
  static final ServiceUrl SOURCE = ServiceUrl.parse("bench.local.source/1");

  private static final OperatingSystemMXBean OS =
      (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

  /**
   * Sends {@value #BATCH} messages with Skymesh and waits until they have arrived.
   *
   * @param side the two meshes and the name server
   * @param blackhole receives the number of messages arrived so far
   */
  @Benchmark
  @OperationsPerInvocation(BATCH)
  public void sendSkymesh(SkymeshSide side, Blackhole blackhole) {
    blackhole.consume(side.runBatch(BATCH));
  }

  /**
   * Sends {@value #BATCH} messages with RSocket fire-and-forget and waits until they have arrived.
   *
   * @param side the RSocket server and client
   * @param blackhole receives the number of messages arrived so far
   */
  @Benchmark
  @OperationsPerInvocation(BATCH)
  public void sendRSocket(RSocketSide side, Blackhole blackhole) {
    blackhole.consume(side.runBatch(BATCH));
  }

  /**
   * Sends {@value #BATCH} messages on a gRPC client-streaming call and waits until they have
   * arrived.
   *
   * @param side the gRPC server, channel and call
   * @param blackhole receives the number of messages arrived so far
   */
  @Benchmark
  @OperationsPerInvocation(BATCH)
  public void sendGrpc(GrpcSide side, Blackhole blackhole) {
    blackhole.consume(side.runBatch(BATCH));
  }

  /**
   * What the three sides share: the parameters, the payload, the counting of arrivals and the batch
   * loop. A side starts its sender and receiver in {@link #start}, sends one message in {@link
   * #send} and reports each arrival to {@link #arrivals}.
   */
  @State(Scope.Thread)
  public abstract static class Side {

    /** The size of the payload in bytes. */
    @Param({"64", "1024"})
    public int payloadSize;

    /** The most messages in flight at once. */
    @Param({"1", "256"})
    public int inFlight;

    /**
     * When a message stops being in flight: {@code sent}, when its send's {@code Mono} completes;
     * {@code arrived}, when the receiver has counted it.
     */
    @Param({"sent", "arrived"})
    public String inFlightUntil;

    /**
     * {@code plain} TCP, or {@code tls} on every side alike (see {@link Transport}); the
     * connections and their handshakes are made in setup.
     */
    @Param({Transport.PLAIN})
    public String transport;

    Arrivals arrivals;
    private Semaphore window;
    private long expected;
    private long iterationMessages;
    private long iterationCpuNanos;
    private long iterationWallNanos;

    /**
     * Starts the side, sends one message to open every connection (and make its handshake), waits
     * for it, and checks that the server speaks the {@code transport} asked for.
     */
    @Setup(Level.Trial)
    public void setUp() throws Exception {
      byte[] payload = new byte[payloadSize];
      new Random(42).nextBytes(payload);
      switch (inFlightUntil) {
        case "sent" -> window = null;
        case "arrived" -> window = new Semaphore(inFlight);
        default ->
            throw new IllegalArgumentException(
                "inFlightUntil: " + inFlightUntil + " (expected: sent or arrived)");
      }
      arrivals = new Arrivals(payloadSize, window);
      start(payload);
      runBatch(1);
      System.out.printf(
          "%n%s, %s, %s%n",
          describe(), Transport.check(transport, serverPort()), EventLoops.describe());
    }

    /**
     * Notes where the iteration starts, for {@link #reportIteration()}, and sets the field of an
     * A/B experiment for it (see {@link Alternation}).
     */
    @Setup(Level.Iteration)
    public void startIteration() {
      Alternation.nextIteration();
      iterationMessages = expected;
      iterationCpuNanos = OS.getProcessCpuTime();
      iterationWallNanos = System.nanoTime();
    }

    /**
     * Prints the CPU time this process spent per message arrived during the iteration (every thread
     * counted: sender, receiver, event loops, JIT and GC), and the system load average: on a shared
     * machine the CPU time per message is steadier than the throughput.
     */
    @TearDown(Level.Iteration)
    public void reportIteration() {
      long messages = expected - iterationMessages;
      long cpu = OS.getProcessCpuTime() - iterationCpuNanos;
      long wall = System.nanoTime() - iterationWallNanos;
      System.out.printf(
          " [%,d msgs, process CPU %.2f µs/msg, %.2f CPUs busy, load average %.2f]",
          messages,
          messages == 0 ? 0.0 : cpu / 1000.0 / messages,
          (double) cpu / wall,
          OS.getSystemLoadAverage());
    }

    /** Checks that exactly the messages sent arrived, intact, then stops the side. */
    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
      try {
        arrivals.check(expected);
        check();
      } finally {
        stop();
      }
    }

    /**
     * Sends {@code count} messages and waits until all have arrived and all sends have completed.
     *
     * @return the number of messages arrived since the start
     */
    final long runBatch(int count) {
      long target = expected + count;
      expected = target;
      long deadline = System.nanoTime() + TIMEOUT.toNanos();
      arrivals.expect(target);
      if (window == null) {
        Flux.range(0, count)
            .flatMap(i -> send(), inFlight)
            .subscribe(null, arrivals::failed, () -> arrivals.sent(count));
      } else {
        for (int i = 0; i < count; i++) {
          arrivals.acquire(deadline);
          send().subscribe(null, arrivals::failed, () -> arrivals.sent(1));
        }
      }
      return arrivals.await(target, deadline);
    }

    /** Starts the receiver and the sender. */
    abstract void start(byte[] payload) throws Exception;

    /** Sends one message; lazy, as every {@code Mono} here. */
    abstract Mono<Void> send();

    /** Side-specific checks at teardown; throws if the run is broken. */
    void check() {}

    /** Stops the sender and the receiver. */
    abstract void stop() throws Exception;

    /** One line about the side, printed at the start of the trial. */
    abstract String describe();

    /** The port the side's receiving server listens on, at {@link Transport#HOST}. */
    abstract int serverPort();
  }

  /** Two meshes in this JVM, each with its own listener, and the name server they share. */
  public static class SkymeshSide extends Side {

    /**
     * Meters and observations: {@code off}, {@code meters} or {@code tracing} (see {@link
     * Observability}); both meshes alike.
     */
    @Param({"off", "meters", "tracing"})
    public String observability;

    private NameServer nameServer;
    private Mesh receiverMesh;
    private Mesh senderMesh;
    private MeshService source;
    private ByteString payload;

    @Override
    void start(byte[] bytes) {
      payload = ByteString.copyFrom(bytes);
      nameServer = NameServer.builder().port(0).start().block(TIMEOUT);
      String address = "127.0.0.1:" + nameServer.port();
      receiverMesh =
          Transport.startMesh(EventLoops.Side.HANDLER, transport, observability, address, TIMEOUT);
      senderMesh =
          Transport.startMesh(EventLoops.Side.CALLER, transport, observability, address, TIMEOUT);
      receiverMesh
          .register(
              SINK,
              message -> {
                arrivals.arrived(message.payload().size());
                return Mono.empty();
              })
          .block(TIMEOUT);
      source = senderMesh.register(SOURCE, message -> Mono.empty()).block(TIMEOUT);
      senderMesh
          .router(SINK.serviceName())
          .views()
          .filter(view -> view.size() == 1)
          .blockFirst(TIMEOUT);
    }

    @Override
    Mono<Void> send() {
      return source.sendTo(SINK, payload);
    }

    @Override
    void stop() {
      try {
        if (senderMesh != null) {
          senderMesh.close().block(TIMEOUT);
        }
        if (receiverMesh != null) {
          receiverMesh.close().block(TIMEOUT);
        }
      } finally {
        if (nameServer != null) {
          nameServer.closeNow(TIMEOUT);
        }
      }
    }

    @Override
    int serverPort() {
      String address = receiverMesh.listenAddress();
      return Integer.parseInt(address.substring(address.lastIndexOf(':') + 1));
    }

    @Override
    String describe() {
      // The same Data frame the mesh builds for sendTo, for its size on the wire.
      PeerFrame frame =
          PeerFrame.newBuilder()
              .setData(
                  Data.newBuilder()
                      .setSource(SOURCE.toString())
                      .setDestination(SINK.toString())
                      .setPayload(payload))
              .build();
      return "Skymesh: "
          + senderMesh.listenAddress()
          + " -> "
          + receiverMesh.listenAddress()
          + ", frame "
          + (4 + frame.getSerializedSize())
          + " bytes, native transport "
          + LoopResources.hasNativeSupport();
    }
  }

  /** An RSocket server and client, both decoding with {@code PayloadDecoder.ZERO_COPY}. */
  public static class RSocketSide extends Side {

    private CloseableChannel server;
    private RSocket client;
    private ByteBuf data;

    @Override
    void start(byte[] bytes) {
      data = PooledByteBufAllocator.DEFAULT.directBuffer(bytes.length).writeBytes(bytes);
      server =
          RSocketServer.create(
                  SocketAcceptor.forFireAndForget(
                      payload -> {
                        try {
                          arrivals.arrived(payload.data().readableBytes());
                        } finally {
                          payload.release();
                        }
                        return Mono.empty();
                      }))
              .payloadDecoder(PayloadDecoder.ZERO_COPY)
              .bind(TcpServerTransport.create(Transport.rsocketServer(transport)))
              .block(TIMEOUT);
      client =
          RSocketConnector.create()
              .payloadDecoder(PayloadDecoder.ZERO_COPY)
              .connect(
                  TcpClientTransport.create(
                      Transport.rsocketClient(transport, server.address().getPort())))
              .block(TIMEOUT);
    }

    @Override
    Mono<Void> send() {
      // The payload is made at subscription: RSocket releases it once written.
      return Mono.defer(() -> client.fireAndForget(ByteBufPayload.create(data.retainedSlice())));
    }

    @Override
    void check() {
      // The last frames may arrive before the sender has seen their write complete and released
      // them: give it a moment.
      long deadline = System.nanoTime() + TIMEOUT.toNanos();
      while (data.refCnt() != 1 && System.nanoTime() - deadline < 0) {
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
      }
      if (data.refCnt() != 1) {
        throw new IllegalStateException("payload slices not released: refCnt " + data.refCnt());
      }
    }

    @Override
    void stop() {
      try {
        if (client != null) {
          client.dispose();
          client.onClose().block(TIMEOUT);
        }
        if (server != null) {
          server.dispose();
          server.onClose().block(TIMEOUT);
        }
      } finally {
        if (data != null) {
          data.release();
        }
      }
    }

    @Override
    int serverPort() {
      return server.address().getPort();
    }

    @Override
    String describe() {
      return "RSocket: server "
          + server.address()
          + ", frame "
          + (3 + 6 + payloadSize)
          + " bytes, native transport "
          + LoopResources.hasNativeSupport();
    }
  }

  /**
   * A gRPC server and channel with {@code directExecutor()}, and one client-streaming call for the
   * whole trial, sending only while it {@code isReady()}; the server asks for messages itself.
   */
  public static class GrpcSide extends Side {

    /** Messages the server asks for before the first arrives; then one more per arrival. */
    private static final int SERVER_PREFETCH = 128;

    static final MethodDescriptor<BytesValue, Empty> METHOD =
        MethodDescriptor.<BytesValue, Empty>newBuilder()
            .setType(MethodDescriptor.MethodType.CLIENT_STREAMING)
            .setFullMethodName(
                MethodDescriptor.generateFullMethodName("skymesh.bench.Sink", "Send"))
            .setRequestMarshaller(ProtoUtils.marshaller(BytesValue.getDefaultInstance()))
            .setResponseMarshaller(ProtoUtils.marshaller(Empty.getDefaultInstance()))
            .build();

    private Server server;
    private ManagedChannel channel;
    private GrpcSender sender;
    private final CompletableFuture<Empty> response = new CompletableFuture<>();
    private final AtomicReference<Throwable> serverError = new AtomicReference<>();

    @Override
    void start(byte[] bytes) throws Exception {
      BytesValue message = BytesValue.newBuilder().setValue(ByteString.copyFrom(bytes)).build();
      ServerServiceDefinition service =
          ServerServiceDefinition.builder("skymesh.bench.Sink")
              .addMethod(
                  METHOD,
                  ServerCalls.asyncClientStreamingCall(
                      responses -> {
                        ServerCallStreamObserver<Empty> call =
                            (ServerCallStreamObserver<Empty>) responses;
                        call.disableAutoRequest();
                        call.request(SERVER_PREFETCH);
                        return new StreamObserver<BytesValue>() {
                          @Override
                          public void onNext(BytesValue value) {
                            arrivals.arrived(value.getValue().size());
                            call.request(1);
                          }

                          @Override
                          public void onError(Throwable t) {
                            serverError.compareAndSet(null, t);
                          }

                          @Override
                          public void onCompleted() {
                            call.onNext(Empty.getDefaultInstance());
                            call.onCompleted();
                          }
                        };
                      }))
              .build();
      server = Transport.startGrpcServer(transport, service);
      channel = Transport.grpcChannel(transport, server.getPort());
      sender = new GrpcSender(message);
      ClientCalls.asyncClientStreamingCall(
          channel.newCall(METHOD, CallOptions.DEFAULT),
          new ClientResponseObserver<BytesValue, Empty>() {
            @Override
            public void beforeStart(ClientCallStreamObserver<BytesValue> requests) {
              sender.requests = requests;
              requests.setOnReadyHandler(sender::drain);
            }

            @Override
            public void onNext(Empty value) {
              response.complete(value);
            }

            @Override
            public void onError(Throwable t) {
              response.completeExceptionally(t);
              sender.failAll(t);
            }

            @Override
            public void onCompleted() {
              response.complete(Empty.getDefaultInstance());
            }
          });
    }

    @Override
    Mono<Void> send() {
      return sender.send;
    }

    @Override
    void check() {
      Throwable error = serverError.get();
      if (error != null) {
        throw new IllegalStateException("the server's stream failed", error);
      }
      sender.close();
      try {
        response.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      } catch (Exception e) {
        throw new IllegalStateException("the call did not end cleanly", e);
      }
    }

    @Override
    void stop() throws InterruptedException {
      if (channel != null) {
        channel.shutdownNow().awaitTermination(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      }
      if (server != null) {
        server.shutdownNow().awaitTermination(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      }
    }

    @Override
    int serverPort() {
      return server.getPort();
    }

    @Override
    String describe() {
      return "gRPC: server 127.0.0.1:"
          + server.getPort()
          + ", message "
          + (5
              + BytesValue.newBuilder()
                  .setValue(ByteString.copyFrom(new byte[payloadSize]))
                  .build()
                  .getSerializedSize())
          + " bytes + HTTP/2 DATA framing, epoll "
          + Epoll.isAvailable();
    }
  }

  /**
   * The sending end of the gRPC call as a {@code Mono} per message: each subscription queues one
   * {@code onNext}, made while the call is ready, in subscription order, and completes when it is
   * made. A drain loop serializes the calls, as {@code StreamObserver} requires: it runs on the
   * subscribing thread, or on the transport thread when the call turns ready again.
   */
  static final class GrpcSender {

    private final BytesValue message;
    private final Queue<CoreSubscriber<? super Void>> waiting =
        Queues.<CoreSubscriber<? super Void>>unboundedMultiproducer().get();
    private final AtomicInteger wip = new AtomicInteger();
    private volatile Throwable failure;
    volatile ClientCallStreamObserver<BytesValue> requests;

    /** The lazy send of one message: each subscription sends it once more. */
    final Mono<Void> send =
        new Mono<>() {
          @Override
          public void subscribe(CoreSubscriber<? super Void> actual) {
            actual.onSubscribe(Operators.emptySubscription());
            waiting.offer(actual);
            drain();
          }
        };

    GrpcSender(BytesValue message) {
      this.message = message;
    }

    void drain() {
      if (wip.getAndIncrement() != 0) {
        return;
      }
      int missed = 1;
      do {
        Throwable error = failure;
        ClientCallStreamObserver<BytesValue> call = requests;
        for (CoreSubscriber<? super Void> next; ; ) {
          if (error == null && !call.isReady()) {
            break;
          }
          next = waiting.poll();
          if (next == null) {
            break;
          }
          if (error != null) {
            next.onError(error);
          } else {
            call.onNext(message);
            next.onComplete();
          }
        }
        missed = wip.addAndGet(-missed);
      } while (missed != 0);
    }

    void failAll(Throwable error) {
      failure = error;
      drain();
    }

    /** Half-closes the call once everything queued is sent; the server then answers. */
    void close() {
      if (!waiting.isEmpty()) {
        throw new IllegalStateException(waiting.size() + " gRPC sends never went out");
      }
      requests.onCompleted();
    }
  }

  /**
   * Counts arrivals, as every receiver reports them, and the completed sends, and wakes the
   * benchmark thread when a batch is complete. In the {@code arrived} mode it also holds the window
   * of messages in flight.
   */
  static final class Arrivals {

    private final int payloadSize;
    private final Semaphore window;
    private final AtomicLong arrived = new AtomicLong();
    private final AtomicLong sent = new AtomicLong();
    private final AtomicLong wrongSize = new AtomicLong();
    private final AtomicReference<Throwable> error = new AtomicReference<>();
    private volatile long target;
    private volatile Thread waiter;

    Arrivals(int payloadSize, Semaphore window) {
      this.payloadSize = payloadSize;
      this.window = window;
    }

    /** Called by a receiver, on its thread, for each message. */
    void arrived(int size) {
      if (size != payloadSize) {
        wrongSize.incrementAndGet();
      }
      long n = arrived.incrementAndGet();
      if (window != null) {
        window.release();
      }
      if (n == target) {
        LockSupport.unpark(waiter);
      }
    }

    /** Called when sends complete. */
    void sent(int count) {
      if (sent.addAndGet(count) == target) {
        LockSupport.unpark(waiter);
      }
    }

    void failed(Throwable t) {
      error.compareAndSet(null, t);
      LockSupport.unpark(waiter);
    }

    /** Sets the totals the current batch waits for, before its first send. */
    void expect(long total) {
      waiter = Thread.currentThread();
      target = total;
    }

    /** Takes a permit of the window, waiting at most until {@code deadline}. */
    void acquire(long deadline) {
      try {
        while (!window.tryAcquire(deadline - System.nanoTime(), TimeUnit.NANOSECONDS)) {
          throwIfFailed();
          if (System.nanoTime() - deadline >= 0) {
            throw new IllegalStateException(
                "no arrival within " + TIMEOUT + ": " + arrived.get() + " of " + target);
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted", e);
      }
    }

    /** Waits until {@code total} messages have arrived and their sends completed. */
    long await(long total, long deadline) {
      for (; ; ) {
        long n = arrived.get();
        if (n >= total && sent.get() >= total) {
          return n;
        }
        throwIfFailed();
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new IllegalStateException(
              "timed out after "
                  + TIMEOUT
                  + ": arrived "
                  + n
                  + ", sent "
                  + sent.get()
                  + ", expected "
                  + total);
        }
        LockSupport.parkNanos(this, left);
      }
    }

    private void throwIfFailed() {
      Throwable t = error.get();
      if (t != null) {
        throw new IllegalStateException("a send failed", t);
      }
    }

    /** Fails unless exactly {@code total} messages were sent and arrived, all intact. */
    void check(long total) {
      throwIfFailed();
      if (arrived.get() != total || sent.get() != total) {
        throw new IllegalStateException(
            "expected " + total + " messages, sent " + sent.get() + ", arrived " + arrived.get());
      }
      if (wrongSize.get() != 0) {
        throw new IllegalStateException(
            wrongSize.get() + " messages arrived with a payload other than " + payloadSize + " B");
      }
    }
  }
}

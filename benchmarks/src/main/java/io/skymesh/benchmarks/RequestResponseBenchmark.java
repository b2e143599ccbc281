package io.skymesh.benchmarks;

import com.google.protobuf.ByteString;
import com.google.protobuf.BytesValue;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.rsocket.Payload;
import io.rsocket.RSocket;
import io.rsocket.SocketAcceptor;
import io.rsocket.util.ByteBufPayload;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.rpc.Methods;
import io.skymesh.mesh.rpc.Reply;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
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
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.netty.resources.LoopResources;

/**
 * Request / response over loopback TCP between two endpoints in one JVM: Skymesh ({@code
 * MeshService.request} between two {@link Mesh} instances, an echo handler), and, in the same run,
 * RSocket-java ({@code requestResponse} over its TCP transport, {@code PayloadDecoder.ZERO_COPY},
 * an echo responder) and gRPC-java (a unary call over grpc-netty-shaded, {@code directExecutor()}
 * on both sides, an echo service). Same payloads ({@code payloadSize}: 64 B, 1 KiB, random bytes,
 * echoed back), the same number of requests in flight ({@code inFlight}: 1, 64, 256), and the same
 * {@code transport}: {@code plain} TCP (the default) or {@code tls}, every side over mutual TLS
 * with the same certificate, protocol, cipher suite and SSL provider (see {@link Transport}).
 *
 * <ul>
 *   <li>{@code throughput*} ({@code Mode.Throughput}): {@code inFlight} loops, each making its next
 *       request when the previous reply arrives ({@link CallLoops}, the same driver for every
 *       side), run through the whole iteration; one invocation returns when {@value #BATCH} more
 *       replies have arrived, so the load never drains between invocations. The score is replies
 *       per second.
 *   <li>{@code latency*} ({@code Mode.SampleTime}): a background loop keeps {@code inFlight - 1}
 *       requests outstanding (each reply starts the next) while the benchmark thread makes one
 *       request and waits for its reply; the samples are round trips at that load, so JMH reports
 *       their percentiles.
 * </ul>
 *
 * <p>Every reply's size is checked against the payload, and teardown fails the trial if a request
 * failed or a reply had the wrong size, so a broken run fails instead of scoring.
 *
 * <pre>{@code
 * java -jar benchmarks/target/benchmarks.jar RequestResponse
 * }</pre>
 */
@OutputTimeUnit(TimeUnit.SECONDS)
public class RequestResponseBenchmark {

  /** Requests per invocation of the throughput benchmarks. */
  static final int BATCH = 2048;

  /** How long a batch, a round trip, or the start and stop of a side, may take. */
  static final Duration TIMEOUT = Duration.ofSeconds(30);

  static final ServiceUrl ECHO = ServiceUrl.parse("bench.local.echo/1");
  static final ServiceUrl CALLER = ServiceUrl.parse("bench.local.caller/1");

  /**
   * The next {@value #BATCH} Skymesh requests, {@code inFlight} outstanding all the while.
   *
   * @param side the two meshes
   * @param blackhole receives the bytes received
   */
  @Benchmark
  @BenchmarkMode(Mode.Throughput)
  @OperationsPerInvocation(BATCH)
  public void throughputSkymesh(SkymeshSide side, Blackhole blackhole) {
    blackhole.consume(side.batch(BATCH));
  }

  /**
   * The next {@value #BATCH} RSocket requests, {@code inFlight} outstanding all the while.
   *
   * @param side the RSocket server and client
   * @param blackhole receives the bytes received
   */
  @Benchmark
  @BenchmarkMode(Mode.Throughput)
  @OperationsPerInvocation(BATCH)
  public void throughputRSocket(RSocketSide side, Blackhole blackhole) {
    blackhole.consume(side.batch(BATCH));
  }

  /**
   * The next {@value #BATCH} gRPC unary calls, {@code inFlight} outstanding all the while.
   *
   * @param side the gRPC server and channel
   * @param blackhole receives the bytes received
   */
  @Benchmark
  @BenchmarkMode(Mode.Throughput)
  @OperationsPerInvocation(BATCH)
  public void throughputGrpc(GrpcSide side, Blackhole blackhole) {
    blackhole.consume(side.batch(BATCH));
  }

  /**
   * Skymesh and RSocket in one fork, taking turns iteration by iteration ({@link Turns}: the side
   * its {@code first} names in the first and every other one after it), so that each Skymesh
   * iteration has RSocket iterations seconds before and after it, on the machine as it was then.
   * {@code run.sh --head-to-head} runs it with an even number of warm-ups and {@code ab.py}
   * compares the two (A: the side that went first). The score mixes both and means nothing by
   * itself.
   *
   * @param turns whose turn it is
   * @param skymesh the two meshes
   * @param rsocket the RSocket server and client
   * @param blackhole receives the bytes received
   */
  @Benchmark
  @BenchmarkMode(Mode.Throughput)
  @OperationsPerInvocation(BATCH)
  public void throughputHeadToHead(
      Turns turns, SkymeshSide skymesh, RSocketSide rsocket, Blackhole blackhole) {
    blackhole.consume(turns.skymesh ? skymesh.batch(BATCH) : rsocket.batch(BATCH));
  }

  /**
   * One round trip with {@code inFlight - 1} others outstanding, Skymesh's and RSocket's taking
   * turns iteration by iteration as in {@link #throughputHeadToHead}; {@code ab.py} gives each
   * side's percentiles.
   *
   * @param turns whose turn it is
   * @param skymesh the two meshes
   * @param rsocket the RSocket server and client
   * @return the reply's size
   */
  @Benchmark
  @BenchmarkMode(Mode.SampleTime)
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  public int latencyHeadToHead(Turns turns, SkymeshSide skymesh, RSocketSide rsocket) {
    return turns.skymesh ? skymesh.roundTrip() : rsocket.roundTrip();
  }

  /** Whose turn it is in the head-to-head benchmarks: {@code first}'s in even iterations. */
  @State(Scope.Thread)
  public static class Turns {

    /**
     * Whose turn comes first, and so every even iteration: {@code skymesh} (then {@code ab.py}'s A
     * is Skymesh) or {@code rsocket} (A is RSocket), to see whether the order favours one.
     */
    @Param({"skymesh"})
    public String first;

    boolean skymesh;
    private int iterations;

    /** Refuses a {@code first} that names neither side. */
    @Setup(Level.Trial)
    public void check() {
      if (!first.equals("skymesh") && !first.equals("rsocket")) {
        throw new IllegalArgumentException("first: skymesh or rsocket, not " + first);
      }
    }

    /** Passes the turn, warm-ups included; the log's iteration line says whose it is. */
    @Setup(Level.Iteration)
    public void next() {
      skymesh = (iterations++ % 2 == 0) == first.equals("skymesh");
      System.out.print(skymesh ? "[Skymesh] " : "[RSocket] ");
    }
  }

  /**
   * One Skymesh round trip with {@code inFlight - 1} others outstanding.
   *
   * @param side the two meshes
   * @return the reply's size
   */
  @Benchmark
  @BenchmarkMode(Mode.SampleTime)
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  public int latencySkymesh(SkymeshSide side) {
    return side.roundTrip();
  }

  /**
   * One RSocket round trip with {@code inFlight - 1} others outstanding.
   *
   * @param side the RSocket server and client
   * @return the reply's size
   */
  @Benchmark
  @BenchmarkMode(Mode.SampleTime)
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  public int latencyRSocket(RSocketSide side) {
    return side.roundTrip();
  }

  /**
   * One gRPC round trip with {@code inFlight - 1} others outstanding.
   *
   * @param side the gRPC server and channel
   * @return the reply's size
   */
  @Benchmark
  @BenchmarkMode(Mode.SampleTime)
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  public int latencyGrpc(GrpcSide side) {
    return side.roundTrip();
  }

  /**
   * What the sides share: the parameters, the payload, the checks, the batch and the background
   * load. A side answers {@link #call()} with the size of the reply.
   */
  @State(Scope.Thread)
  public abstract static class Side {

    /** The size of the request and reply payloads in bytes. */
    @Param({"64", "1024"})
    public int payloadSize;

    /** The most requests outstanding at once. */
    @Param({"1", "64", "256"})
    public int inFlight;

    /**
     * {@code plain} TCP, or {@code tls} on every side alike (see {@link Transport}); the
     * connections and their handshakes are made in setup.
     */
    @Param({Transport.PLAIN})
    public String transport;

    private final AtomicLong replies = new AtomicLong();
    private final AtomicLong wrongSize = new AtomicLong();
    private final AtomicReference<Throwable> error = new AtomicReference<>();
    private Disposable load;
    private CallLoops steady;
    private long repliesAwaited;

    /**
     * Starts the side, makes one request to open every connection (and make its handshake), and
     * checks that the server speaks the {@code transport} asked for.
     */
    @Setup(Level.Trial)
    public void setUp() throws Exception {
      byte[] payload = new byte[payloadSize];
      new Random(42).nextBytes(payload);
      start(payload);
      checked().block(TIMEOUT);
      String security = Transport.check(transport, serverPort());
      System.out.printf(
          "%n%s, %s, native transport %s, %s%n",
          describe(), security, LoopResources.hasNativeSupport(), EventLoops.describe());
    }

    /**
     * Starts the background load of the latency benchmarks, on an iteration's first round trip:
     * {@code inFlight - 1} loops, each making its next request when the previous reply arrives.
     */
    private void startLoad() {
      int loops = inFlight - 1;
      if (loops > 0) {
        load = CallLoops.forever(loops, this::checked, this::failed);
      }
    }

    /** Sets the field of an A/B experiment for the iteration (see {@link Alternation}). */
    @Setup(Level.Iteration)
    public void alternate() {
      Alternation.nextIteration();
    }

    /**
     * Stops the background load; the throughput loops also wait until their last replies have
     * arrived, so that none arrives during the next iteration (the other side's, head to head).
     */
    @TearDown(Level.Iteration)
    public void stopLoad() {
      if (steady != null) {
        steady.stopAndDrain(TIMEOUT);
        steady = null;
      }
      if (load != null) {
        load.dispose();
        load = null;
      }
    }

    /** Fails the trial if a request failed or a reply was wrong, then stops the side. */
    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
      try {
        Throwable failure = error.get();
        if (failure != null) {
          throw new IllegalStateException("a request failed", failure);
        }
        if (wrongSize.get() != 0) {
          throw new IllegalStateException(wrongSize.get() + " replies of the wrong size");
        }
      } finally {
        stop();
      }
    }

    /**
     * Waits for the next {@code count} replies of the iteration's {@code inFlight} loops, which
     * start with the iteration's first batch and run until its end, so that the requests
     * outstanding never fall below {@code inFlight} between batches.
     */
    final long batch(int count) {
      if (steady == null) {
        steady = CallLoops.steady(inFlight, this::checked);
        repliesAwaited = 0;
      }
      repliesAwaited += count;
      steady.awaitEnded(repliesAwaited, TIMEOUT);
      return replies.get();
    }

    /** One request, waited for. */
    final int roundTrip() {
      if (load == null) {
        startLoad();
      }
      Integer size = checked().block(TIMEOUT);
      return size == null ? -1 : size;
    }

    private Mono<Integer> checked() {
      return call()
          .doOnNext(
              size -> {
                replies.incrementAndGet();
                if (size != payloadSize) {
                  wrongSize.incrementAndGet();
                }
              })
          .doOnError(this::failed);
    }

    private void failed(Throwable t) {
      error.compareAndSet(null, t);
    }

    /** Starts the server and the client. */
    abstract void start(byte[] payload) throws Exception;

    /** One request; lazy. Completes with the reply's payload size. */
    abstract Mono<Integer> call();

    /** Stops the client and the server. */
    abstract void stop() throws Exception;

    /** One line about the side. */
    abstract String describe();

    /** The port the side's server listens on, at {@link Transport#HOST}. */
    abstract int serverPort();
  }

  /** Two meshes in this JVM, each with its own listener, and their name server. */
  public static class SkymeshSide extends Side {

    /**
     * Meters and observations: {@code off}, {@code meters} or {@code tracing} (see {@link
     * Observability}); both meshes alike.
     */
    @Param({"off", "meters", "tracing"})
    public String observability;

    private MeshPair meshes;
    private MeshService caller;
    private ByteString payload;

    @Override
    void start(byte[] bytes) {
      payload = ByteString.copyFrom(bytes);
      meshes =
          MeshPair.start(
              transport,
              observability,
              ECHO,
              Methods.builder()
                  .add("Echo", request -> Mono.just(Reply.of(request.payload())))
                  .build(),
              TIMEOUT);
      caller = meshes.caller(CALLER, TIMEOUT);
    }

    @Override
    Mono<Integer> call() {
      return caller.request(ECHO, "Echo", payload).map(reply -> reply.payload().size());
    }

    @Override
    void stop() {
      if (meshes != null) {
        meshes.stop(TIMEOUT);
      }
    }

    @Override
    String describe() {
      return meshes.describe();
    }

    @Override
    int serverPort() {
      return meshes.serverPort();
    }
  }

  /** An RSocket echo responder and a client, both with {@code PayloadDecoder.ZERO_COPY}. */
  public static class RSocketSide extends Side {

    private RSocketPair rsocket;
    private RSocket client;
    private ByteBuf data;

    @Override
    void start(byte[] bytes) {
      data = PooledByteBufAllocator.DEFAULT.directBuffer(bytes.length).writeBytes(bytes);
      rsocket =
          RSocketPair.start(transport, SocketAcceptor.forRequestResponse(Mono::just), TIMEOUT);
      client = rsocket.client();
    }

    @Override
    Mono<Integer> call() {
      // The payload is made at subscription: RSocket releases it once written.
      return Mono.defer(
          () ->
              client
                  .requestResponse(ByteBufPayload.create(data.retainedSlice()))
                  .map(RSocketSide::sizeAndRelease));
    }

    private static int sizeAndRelease(Payload reply) {
      try {
        return reply.data().readableBytes();
      } finally {
        reply.release();
      }
    }

    @Override
    void stop() {
      try {
        if (rsocket != null) {
          rsocket.stop(TIMEOUT);
        }
      } finally {
        if (data != null) {
          data.release();
        }
      }
    }

    @Override
    String describe() {
      return rsocket.describe();
    }

    @Override
    int serverPort() {
      return rsocket.serverPort();
    }
  }

  /** A gRPC echo service and channel with {@code directExecutor()}; one unary call per request. */
  public static class GrpcSide extends Side {

    static final MethodDescriptor<BytesValue, BytesValue> METHOD =
        MethodDescriptor.<BytesValue, BytesValue>newBuilder()
            .setType(MethodDescriptor.MethodType.UNARY)
            .setFullMethodName(
                MethodDescriptor.generateFullMethodName("skymesh.bench.Echo", "Echo"))
            .setRequestMarshaller(ProtoUtils.marshaller(BytesValue.getDefaultInstance()))
            .setResponseMarshaller(ProtoUtils.marshaller(BytesValue.getDefaultInstance()))
            .build();

    private Server server;
    private ManagedChannel channel;
    private BytesValue message;

    @Override
    void start(byte[] bytes) throws Exception {
      message = BytesValue.newBuilder().setValue(ByteString.copyFrom(bytes)).build();
      ServerServiceDefinition service =
          ServerServiceDefinition.builder("skymesh.bench.Echo")
              .addMethod(
                  METHOD,
                  ServerCalls.asyncUnaryCall(
                      (request, responses) -> {
                        responses.onNext(request);
                        responses.onCompleted();
                      }))
              .build();
      server = Transport.startGrpcServer(transport, service);
      channel = Transport.grpcChannel(transport, server.getPort());
    }

    @Override
    Mono<Integer> call() {
      return Mono.create(
          sink ->
              ClientCalls.asyncUnaryCall(
                  channel.newCall(METHOD, CallOptions.DEFAULT),
                  message,
                  new StreamObserver<BytesValue>() {
                    @Override
                    public void onNext(BytesValue value) {
                      sink.success(value.getValue().size());
                    }

                    @Override
                    public void onError(Throwable t) {
                      sink.error(t);
                    }

                    @Override
                    public void onCompleted() {
                      sink.success();
                    }
                  }));
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
    String describe() {
      return "gRPC: server 127.0.0.1:" + server.getPort();
    }

    @Override
    int serverPort() {
      return server.getPort();
    }
  }
}

package io.skymesh.benchmarks;

import com.google.protobuf.ByteString;
import com.google.protobuf.BytesValue;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.rsocket.Payload;
import io.rsocket.RSocket;
import io.rsocket.util.ByteBufPayload;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.rpc.Methods;
import io.skymesh.mesh.rpc.Reply;
import java.nio.ByteBuffer;
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
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.MonoSink;
import reactor.netty.resources.LoopResources;

/**
 * Stream and channel throughput over loopback TCP between two endpoints in one JVM, with demand
 * travelling as credit on every side: Skymesh ({@code MeshService.requestStream} and {@code
 * requestChannel} between two {@link Mesh} instances), and, in the same run, RSocket-java ({@code
 * requestStream} and {@code requestChannel} over its TCP transport, {@code
 * PayloadDecoder.ZERO_COPY}) and gRPC-java (server streaming and bidi streaming over
 * grpc-netty-shaded, {@code directExecutor()} on both sides, manual flow control on both sides).
 *
 * <ul>
 *   <li>{@code stream*}: one request asks for {@value #ITEMS} items of {@code payloadSize} bytes;
 *       the invocation returns when the stream has completed; the score is items per second.
 *   <li>{@code channel*}: the client sends {@value #ITEMS} items of {@code payloadSize} bytes, the
 *       server echoes each; the invocation returns when the reply stream has completed; the score
 *       is items echoed per second (each item crosses the wire twice).
 * </ul>
 *
 * <p>Every consumer grants {@value #WINDOW} items at first and {@value #REPLENISH} more each time
 * that many were consumed, Skymesh's default {@code streamWindow} and its replenishing: Skymesh
 * does so itself (its inbox is {@code limitRate(streamWindow)} inside), the RSocket client through
 * {@code limitRate(}{@value #WINDOW}{@code )} on its replies (and its server's echo passes that
 * demand on to the upload), gRPC through {@code disableAutoRequestWithInitial(}{@value
 * #WINDOW}{@code )} and {@code request(}{@value #REPLENISH}{@code )} on the client and {@code
 * disableAutoRequest()} with the same window on the echo server, whose producers send only while
 * {@code isReady()}.
 *
 * <p>Every item's size is checked against the payload, every stream must deliver exactly the items
 * asked for, and teardown fails the trial if a call failed, an item had the wrong size, or the
 * servers produced a different number of items than the clients received, so a broken run fails
 * instead of scoring.
 *
 * <pre>{@code
 * java -jar benchmarks/target/benchmarks.jar StreamBenchmark
 * }</pre>
 */
@OutputTimeUnit(TimeUnit.SECONDS)
public class StreamBenchmark {

  /** Items per stream, and per invocation. */
  static final int ITEMS = 10_000;

  /** The credit a consumer grants first: Skymesh's default {@code streamWindow}. */
  static final int WINDOW = 256;

  /** The credit a consumer grants each time that many items were consumed ({@code limitRate}). */
  static final int REPLENISH = WINDOW - (WINDOW >> 2);

  /** How long a stream, or the start and stop of a side, may take. */
  static final Duration TIMEOUT = Duration.ofSeconds(30);

  static final ServiceUrl SERVER = ServiceUrl.parse("bench.local.streamer/1");
  static final ServiceUrl CALLER = ServiceUrl.parse("bench.local.caller/1");

  /**
   * A Skymesh server stream of {@value #ITEMS} items.
   *
   * @param side the two meshes
   * @return the items received
   */
  @Benchmark
  @BenchmarkMode(Mode.Throughput)
  @OperationsPerInvocation(ITEMS)
  public long streamSkymesh(SkymeshSide side) {
    return side.stream(ITEMS);
  }

  /**
   * An RSocket request-stream of {@value #ITEMS} items.
   *
   * @param side the RSocket server and client
   * @return the items received
   */
  @Benchmark
  @BenchmarkMode(Mode.Throughput)
  @OperationsPerInvocation(ITEMS)
  public long streamRSocket(RSocketSide side) {
    return side.stream(ITEMS);
  }

  /**
   * A gRPC server-streaming call of {@value #ITEMS} items.
   *
   * @param side the gRPC server and channel
   * @return the items received
   */
  @Benchmark
  @BenchmarkMode(Mode.Throughput)
  @OperationsPerInvocation(ITEMS)
  public long streamGrpc(GrpcSide side) {
    return side.stream(ITEMS);
  }

  /**
   * A Skymesh channel echoing {@value #ITEMS} items.
   *
   * @param side the two meshes
   * @return the items received back
   */
  @Benchmark
  @BenchmarkMode(Mode.Throughput)
  @OperationsPerInvocation(ITEMS)
  public long channelSkymesh(SkymeshSide side) {
    return side.channel(ITEMS);
  }

  /**
   * An RSocket request-channel echoing {@value #ITEMS} items.
   *
   * @param side the RSocket server and client
   * @return the items received back
   */
  @Benchmark
  @BenchmarkMode(Mode.Throughput)
  @OperationsPerInvocation(ITEMS)
  public long channelRSocket(RSocketSide side) {
    return side.channel(ITEMS);
  }

  /**
   * A gRPC bidi-streaming call echoing {@value #ITEMS} items.
   *
   * @param side the gRPC server and channel
   * @return the items received back
   */
  @Benchmark
  @BenchmarkMode(Mode.Throughput)
  @OperationsPerInvocation(ITEMS)
  public long channelGrpc(GrpcSide side) {
    return side.channel(ITEMS);
  }

  /** The request of a server stream: the number of items, 4 bytes big-endian. */
  static ByteBuffer countRequest(int items) {
    return ByteBuffer.allocate(Integer.BYTES).putInt(0, items);
  }

  /**
   * What the sides share: the parameters, the payload, the counts and the checks. A side's streams
   * complete with the number of items they received; each item goes through {@link #received}.
   */
  @State(Scope.Thread)
  public abstract static class Side {

    /** The size of each item's payload in bytes. */
    @Param({"64", "1024"})
    public int payloadSize;

    /**
     * {@code plain} TCP, or {@code tls} on every side alike (see {@link Transport}); the
     * connections and their handshakes are made in setup.
     */
    @Param({Transport.PLAIN})
    public String transport;

    /** Items the servers produced or echoed. */
    final AtomicLong served = new AtomicLong();

    private final AtomicLong received = new AtomicLong();
    private final AtomicLong wrongSize = new AtomicLong();
    private final AtomicReference<Throwable> error = new AtomicReference<>();

    /**
     * Starts the side, runs one short stream and one short channel (which opens every connection
     * and makes its handshake), and checks that the server speaks the {@code transport} asked for.
     */
    @Setup(Level.Trial)
    public void setUp() throws Exception {
      byte[] payload = new byte[payloadSize];
      new Random(42).nextBytes(payload);
      start(payload);
      stream(WINDOW + 1);
      channel(WINDOW + 1);
      String security = Transport.check(transport, serverPort());
      System.out.printf(
          "%n%s, %s, native transport %s, %s%n",
          describe(), security, LoopResources.hasNativeSupport(), EventLoops.describe());
    }

    /**
     * Fails the trial if a call failed, an item was wrong, or the servers' and clients' counts
     * differ; then stops the side.
     */
    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
      try {
        check();
      } finally {
        stop();
      }
    }

    /** Throws if a call failed, an item had the wrong size, or served and received differ. */
    final void check() {
      Throwable failure = error.get();
      if (failure != null) {
        throw new IllegalStateException("a stream failed", failure);
      }
      if (wrongSize.get() != 0) {
        throw new IllegalStateException(wrongSize.get() + " items of the wrong size");
      }
      if (served.get() != received.get()) {
        throw new IllegalStateException(
            "the servers produced " + served.get() + " items, the clients received " + received);
      }
    }

    /** Items received by the client so far, every stream and channel of the trial. */
    final long received() {
      return received.get();
    }

    /** A server stream of {@code items} items, waited for. */
    final long stream(int items) {
      return expect(items, streamOf(items));
    }

    /** A channel echoing {@code items} items, waited for. */
    final long channel(int items) {
      return expect(items, channelOf(items));
    }

    private long expect(int items, Mono<Long> call) {
      Long got = call.doOnError(this::failed).block(TIMEOUT);
      if (got == null || got != items) {
        throw new IllegalStateException("expected " + items + " items, got " + got);
      }
      return got;
    }

    /** Counts an item the client received and checks its size. */
    final void received(int size) {
      received.incrementAndGet();
      if (size != payloadSize) {
        wrongSize.incrementAndGet();
      }
    }

    final void failed(Throwable t) {
      error.compareAndSet(null, t);
    }

    /** Starts the server and the client. */
    abstract void start(byte[] payload) throws Exception;

    /** A server stream; lazy. Completes with the number of items received. */
    abstract Mono<Long> streamOf(int items);

    /** A channel; lazy. Completes with the number of items received back. */
    abstract Mono<Long> channelOf(int items);

    /** Stops the client and the server. */
    abstract void stop() throws Exception;

    /** One line about the side. */
    abstract String describe();

    /** The port the side's server listens on, at {@link Transport#HOST}. */
    abstract int serverPort();
  }

  /** Two meshes in this JVM, each with its own listener, and their name server. */
  public static class SkymeshSide extends Side {

    private MeshPair meshes;
    private MeshService caller;
    private ByteString payload;

    @Override
    void start(byte[] bytes) {
      payload = ByteString.copyFrom(bytes);
      Reply item = Reply.of(payload);
      meshes =
          MeshPair.start(
              transport,
              Observability.OFF,
              SERVER,
              Methods.builder()
                  .addStream(
                      "Stream",
                      request ->
                          Flux.range(0, request.payload().asReadOnlyByteBuffer().getInt())
                              .map(
                                  i -> {
                                    served.incrementAndGet();
                                    return item;
                                  }))
                  .addChannel(
                      "Echo",
                      requests ->
                          requests.map(
                              request -> {
                                served.incrementAndGet();
                                return Reply.of(request.payload());
                              }))
                  .build(),
              TIMEOUT);
      caller = meshes.caller(CALLER, TIMEOUT);
    }

    @Override
    Mono<Long> streamOf(int items) {
      return caller
          .requestStream(SERVER, "Stream", ByteString.copyFrom(countRequest(items)))
          .doOnNext(reply -> received(reply.payload().size()))
          .count();
    }

    @Override
    Mono<Long> channelOf(int items) {
      return caller
          .requestChannel(SERVER, "Echo", Flux.range(0, items).map(i -> payload))
          .doOnNext(reply -> received(reply.payload().size()))
          .count();
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

  /**
   * An RSocket responder (a stream of the asked number of items; an echoing channel) and a client,
   * both with {@code PayloadDecoder.ZERO_COPY}.
   */
  public static class RSocketSide extends Side {

    private RSocketPair rsocket;
    private RSocket client;
    private ByteBuf data;

    @Override
    void start(byte[] bytes) {
      data = PooledByteBufAllocator.DEFAULT.directBuffer(bytes.length).writeBytes(bytes);
      RSocket responder =
          new RSocket() {
            @Override
            public Flux<Payload> requestStream(Payload request) {
              int items;
              try {
                ByteBuf count = request.data();
                items = count.getInt(count.readerIndex());
              } finally {
                request.release();
              }
              // Each item is made when requested: RSocket releases it once written.
              return Flux.range(0, items)
                  .map(
                      i -> {
                        served.incrementAndGet();
                        return ByteBufPayload.create(data.retainedSlice());
                      });
            }

            @Override
            public Flux<Payload> requestChannel(Publisher<Payload> requests) {
              // The echo hands each request back to RSocket, which releases it once written.
              return Flux.from(requests).doOnNext(request -> served.incrementAndGet());
            }
          };
      rsocket = RSocketPair.start(transport, (setup, socket) -> Mono.just(responder), TIMEOUT);
      client = rsocket.client();
    }

    @Override
    Mono<Long> streamOf(int items) {
      return Mono.defer(
          () ->
              client
                  .requestStream(ByteBufPayload.create(countRequest(items)))
                  .limitRate(WINDOW)
                  .doOnNext(this::receivedAndRelease)
                  .count());
    }

    @Override
    Mono<Long> channelOf(int items) {
      return client
          .requestChannel(
              Flux.range(0, items).map(i -> ByteBufPayload.create(data.retainedSlice())))
          .limitRate(WINDOW)
          .doOnNext(this::receivedAndRelease)
          .count();
    }

    private void receivedAndRelease(Payload reply) {
      try {
        received(reply.data().readableBytes());
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

  /**
   * A gRPC service with a server-streaming and a bidi-streaming method, and a channel; {@code
   * directExecutor()} and manual flow control on both sides.
   */
  public static class GrpcSide extends Side {

    static final String SERVICE = "skymesh.bench.Streamer";

    static final MethodDescriptor<BytesValue, BytesValue> STREAM =
        method(MethodDescriptor.MethodType.SERVER_STREAMING, "Stream");

    static final MethodDescriptor<BytesValue, BytesValue> ECHO =
        method(MethodDescriptor.MethodType.BIDI_STREAMING, "Echo");

    private static MethodDescriptor<BytesValue, BytesValue> method(
        MethodDescriptor.MethodType type, String name) {
      return MethodDescriptor.<BytesValue, BytesValue>newBuilder()
          .setType(type)
          .setFullMethodName(MethodDescriptor.generateFullMethodName(SERVICE, name))
          .setRequestMarshaller(ProtoUtils.marshaller(BytesValue.getDefaultInstance()))
          .setResponseMarshaller(ProtoUtils.marshaller(BytesValue.getDefaultInstance()))
          .build();
    }

    private Server server;
    private ManagedChannel channel;
    private BytesValue message;

    @Override
    void start(byte[] bytes) throws Exception {
      message = BytesValue.newBuilder().setValue(ByteString.copyFrom(bytes)).build();
      ServerServiceDefinition service =
          ServerServiceDefinition.builder(SERVICE)
              .addMethod(
                  STREAM,
                  ServerCalls.asyncServerStreamingCall(
                      (request, responses) ->
                          produce(
                              request.getValue().asReadOnlyByteBuffer().getInt(),
                              (ServerCallStreamObserver<BytesValue>) responses)))
              .addMethod(
                  ECHO,
                  ServerCalls.asyncBidiStreamingCall(
                      responses -> new Echo((ServerCallStreamObserver<BytesValue>) responses)))
              .build();
      server = Transport.startGrpcServer(transport, service);
      channel = Transport.grpcChannel(transport, server.getPort());
    }

    /** Sends {@code items} messages, only while the call is ready, then completes. */
    private void produce(int items, ServerCallStreamObserver<BytesValue> responses) {
      int[] sent = {0};
      responses.setOnCancelHandler(() -> {});
      responses.setOnReadyHandler(
          () -> {
            while (sent[0] < items && responses.isReady()) {
              sent[0]++;
              served.incrementAndGet();
              responses.onNext(message);
            }
            if (sent[0] == items) {
              sent[0]++;
              responses.onCompleted();
            }
          });
    }

    /**
     * The echo of a bidi call: asks for {@value #WINDOW} requests, then for as many as it echoed,
     * in batches of {@value #REPLENISH}, while its replies can be sent.
     */
    private final class Echo implements StreamObserver<BytesValue> {

      private final ServerCallStreamObserver<BytesValue> responses;
      private int echoed;

      Echo(ServerCallStreamObserver<BytesValue> responses) {
        this.responses = responses;
        responses.disableAutoRequest();
        responses.setOnReadyHandler(this::replenish);
        responses.request(WINDOW);
      }

      @Override
      public void onNext(BytesValue request) {
        served.incrementAndGet();
        responses.onNext(request);
        if (++echoed >= REPLENISH && responses.isReady()) {
          replenish();
        }
      }

      private void replenish() {
        if (echoed > 0) {
          responses.request(echoed);
          echoed = 0;
        }
      }

      @Override
      public void onError(Throwable t) {
        failed(t);
      }

      @Override
      public void onCompleted() {
        responses.onCompleted();
      }
    }

    @Override
    Mono<Long> streamOf(int items) {
      return Mono.create(
          sink ->
              ClientCalls.asyncServerStreamingCall(
                  channel.newCall(STREAM, CallOptions.DEFAULT),
                  BytesValue.of(ByteString.copyFrom(countRequest(items))),
                  new Consumer(sink, 0)));
    }

    @Override
    Mono<Long> channelOf(int items) {
      return Mono.create(
          sink ->
              ClientCalls.asyncBidiStreamingCall(
                  channel.newCall(ECHO, CallOptions.DEFAULT), new Consumer(sink, items)));
    }

    /**
     * The client of a call: asks for {@value #WINDOW} replies, then {@value #REPLENISH} more each
     * time that many arrived; for a bidi call, also sends {@code toSend} messages while the call is
     * ready, then half-closes.
     */
    private final class Consumer implements ClientResponseObserver<BytesValue, BytesValue> {

      private final MonoSink<Long> sink;
      private final int toSend;
      private ClientCallStreamObserver<BytesValue> call;
      private int sent;
      private long count;
      private int sinceRequest;

      Consumer(MonoSink<Long> sink, int toSend) {
        this.sink = sink;
        this.toSend = toSend;
      }

      @Override
      public void beforeStart(ClientCallStreamObserver<BytesValue> call) {
        this.call = call;
        call.disableAutoRequestWithInitial(WINDOW);
        if (toSend > 0) {
          call.setOnReadyHandler(this::send);
        }
      }

      private void send() {
        while (sent < toSend && call.isReady()) {
          sent++;
          call.onNext(message);
        }
        if (sent == toSend) {
          sent++;
          call.onCompleted();
        }
      }

      @Override
      public void onNext(BytesValue reply) {
        received(reply.getValue().size());
        count++;
        if (++sinceRequest == REPLENISH) {
          sinceRequest = 0;
          call.request(REPLENISH);
        }
      }

      @Override
      public void onError(Throwable t) {
        sink.error(t);
      }

      @Override
      public void onCompleted() {
        sink.success(count);
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
    String describe() {
      return "gRPC: server 127.0.0.1:" + server.getPort();
    }

    @Override
    int serverPort() {
      return server.getPort();
    }
  }
}

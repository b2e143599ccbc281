package io.skymesh.mesh.rpc;

import static io.skymesh.mesh.TestMeshes.register;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.TestMeshes;
import io.skymesh.mesh.internal.DefaultMesh;
import io.skymesh.mesh.internal.rpc.RpcConfig;
import io.skymesh.mesh.internal.rpc.RpcServer;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.reactivestreams.Subscription;
import reactor.core.publisher.BaseSubscriber;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.SynchronousSink;
import reactor.test.StepVerifier;

/**
 * Demand travels across the wire as credit: a producer never runs more than one window ahead of its
 * consumer, a channel keeps order and loses nothing both ways, and cancelling either end disposes
 * the other end's publisher. Over real TCP between two meshes.
 */
class StreamFlowControlTest {

  private static final Duration DEADLINE = Duration.ofSeconds(120);
  private static final ServiceUrl SERVER = ServiceUrl.parse("game.zone1.flow/1");
  private static final int WINDOW = RpcConfig.DEFAULT_STREAM_WINDOW;

  private TestMeshes fixture;
  private Mesh serverMesh;
  private MeshService client;

  /** Items the infinite stream's handler produced: counted at the source. */
  private final AtomicLong produced = new AtomicLong();

  private final AtomicInteger serverRepliesCancelled = new AtomicInteger();
  private final AtomicInteger serverRequestsCancelled = new AtomicInteger();

  @BeforeEach
  void start() {
    fixture = TestMeshes.withNameServer();
    Methods methods =
        Methods.builder()
            .addStream(
                "Infinite",
                request ->
                    Flux.generate(
                        (SynchronousSink<Reply> sink) ->
                            sink.next(Reply.of(sequence(produced.incrementAndGet())))))
            .addChannel(
                "Echo",
                requests ->
                    requests
                        .doOnCancel(serverRequestsCancelled::incrementAndGet)
                        .map(request -> Reply.of(request.payload()))
                        .doOnCancel(serverRepliesCancelled::incrementAndGet))
            .addChannel(
                "TakeFive",
                requests -> requests.take(5).map(request -> Reply.of(request.payload())))
            .build();
    serverMesh = fixture.mesh();
    register(serverMesh, SERVER.toString(), methods);
    client = register(fixture.mesh(), "game.zone1.client/1");
  }

  @AfterEach
  void stop() {
    fixture.close();
  }

  @Test
  void aConsumerTakingTenAtATimeHoldsTheProducerToItsCreditOverAMillionItems() {
    long total = 1_000_000;
    AtomicLong consumed = new AtomicLong();
    AtomicLong requested = new AtomicLong();
    AtomicLong worstLead = new AtomicLong();
    AtomicBoolean outOfOrder = new AtomicBoolean();
    CompletableFuture<Long> done = new CompletableFuture<>();
    client
        .requestStream(SERVER, "Infinite", ByteString.EMPTY)
        .subscribe(
            new BaseSubscriber<>() {
              @Override
              protected void hookOnSubscribe(Subscription subscription) {
                requested.addAndGet(10);
                request(10);
              }

              @Override
              protected void hookOnNext(Reply reply) {
                long n = consumed.incrementAndGet();
                if (sequenceOf(reply.payload()) != n) {
                  outOfOrder.set(true);
                }
                // What the producer made beyond what this consumer asked for: at most one window.
                worstLead.accumulateAndGet(produced.get() - requested.get(), Math::max);
                if (n == total) {
                  cancel();
                  done.complete(n);
                } else if (n % 10 == 0) {
                  requested.addAndGet(10);
                  request(10);
                }
              }

              @Override
              protected void hookOnError(Throwable error) {
                done.completeExceptionally(error);
              }
            });

    StepVerifier.create(Mono.fromFuture(done)).expectNext(total).expectComplete().verify(DEADLINE);
    assertThat(outOfOrder).isFalse();
    assertThat(worstLead.get()).isBetween(0L, (long) WINDOW);
    // After the cancel the producer stops within its credit, and its handler is disposed.
    await().atMost(DEADLINE).until(() -> rpcServer().running() == 0);
    assertThat(produced.get()).isLessThanOrEqualTo(total + WINDOW);
  }

  @Test
  void aChannelEchoesAHundredThousandItemsInOrderWithoutLoss() {
    int total = 100_000;
    AtomicLong sent = new AtomicLong();
    Flux<ByteString> requests =
        Flux.range(1, total).map(i -> sequence(i)).doOnNext(item -> sent.incrementAndGet());

    AtomicLong expected = new AtomicLong(1);
    StepVerifier.create(
            client
                .requestChannel(SERVER, "Echo", requests)
                .map(reply -> sequenceOf(reply.payload()))
                .filter(n -> n != expected.getAndIncrement())
                .count())
        .expectNext(0L)
        .expectComplete()
        .verify(DEADLINE);
    assertThat(expected.get() - 1).isEqualTo(total);
    assertThat(sent.get()).isEqualTo(total);
    await().atMost(DEADLINE).until(() -> rpcServer().running() == 0);
  }

  @Test
  void cancellingTheCallerDisposesTheHandlersWork() {
    AtomicInteger uploadCancelled = new AtomicInteger();
    AtomicLong uploaded = new AtomicLong();
    Flux<ByteString> endless = endlessUpload(uploaded, uploadCancelled);

    StepVerifier.create(client.requestChannel(SERVER, "Echo", endless), 0)
        .thenRequest(1000)
        .expectNextCount(1000)
        .thenCancel()
        .verify(DEADLINE);

    await().atMost(DEADLINE).until(() -> serverRepliesCancelled.get() == 1);
    assertThat(serverRequestsCancelled.get()).isEqualTo(1);
    assertThat(uploadCancelled.get()).isEqualTo(1);
    await().atMost(DEADLINE).until(() -> rpcServer().running() == 0);
    // The upload ran at most a window ahead of the echoes taken, and stopped.
    assertThat(uploaded.get()).isLessThanOrEqualTo(1000 + 2L * WINDOW + 1);
  }

  @Test
  void aHandlerCancellingItsRequestsDisposesTheCallersUpload() {
    AtomicInteger uploadCancelled = new AtomicInteger();
    AtomicLong uploaded = new AtomicLong();
    Flux<ByteString> endless = endlessUpload(uploaded, uploadCancelled);

    StepVerifier.create(
            client.requestChannel(SERVER, "TakeFive", endless).map(r -> sequenceOf(r.payload())))
        .expectNext(1L, 2L, 3L, 4L, 5L)
        .expectComplete()
        .verify(DEADLINE);

    await().atMost(DEADLINE).until(() -> uploadCancelled.get() == 1);
    assertThat(uploaded.get()).isLessThanOrEqualTo(WINDOW + 1);
  }

  @Test
  void aStreamToAServiceOfTheSameMeshKeepsTheSameSemantics() {
    MeshService local = register(serverMesh, "game.zone1.local/1");
    AtomicLong before = new AtomicLong(produced.get());

    StepVerifier.create(local.requestStream(SERVER, "Infinite", ByteString.EMPTY), 0)
        .thenRequest(10)
        .expectNextCount(10)
        .thenCancel()
        .verify(DEADLINE);
    // In process, demand passes straight through: nothing is produced beyond what was asked for.
    assertThat(produced.get() - before.get()).isLessThanOrEqualTo(10 + WINDOW);
    StepVerifier.create(
            local
                .requestChannel(SERVER, "Echo", Flux.range(1, 1000).map(i -> sequence(i)))
                .map(reply -> sequenceOf(reply.payload())))
        .expectNextSequence(LongStream.rangeClosed(1, 1000).boxed().toList())
        .expectComplete()
        .verify(DEADLINE);
    await().atMost(DEADLINE).until(() -> rpcServer().running() == 0);
  }

  private RpcServer rpcServer() {
    return ((DefaultMesh) serverMesh).rpcServer();
  }

  /** Numbered payloads for ever, counting those made and the cancels of the upload. */
  private static Flux<ByteString> endlessUpload(AtomicLong uploaded, AtomicInteger cancelled) {
    return Flux.generate(
            (SynchronousSink<ByteString> sink) -> sink.next(sequence(uploaded.incrementAndGet())))
        .doOnCancel(cancelled::incrementAndGet);
  }

  private static ByteString sequence(long i) {
    return ByteString.copyFrom(ByteBuffer.allocate(8).putLong(0, i));
  }

  private static long sequenceOf(ByteString payload) {
    return payload.asReadOnlyByteBuffer().getLong();
  }
}

package io.skymesh.mesh.internal.transport;

import static io.skymesh.mesh.TestMeshes.register;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshBuilder;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.TestMeshes;
import io.skymesh.mesh.rpc.Methods;
import io.skymesh.mesh.rpc.Reply;
import io.skymesh.proto.PeerFrame;
import io.skymesh.proto.StatusCode;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;

/**
 * A peer that sends requests and reads none of the replies is not read either once {@code
 * maxPendingSends} answers wait for it: its flood stalls in its own socket instead of filling the
 * mesh's heap with replies, other callers are served meanwhile, and once it reads again every reply
 * arrives. One that reads nothing for {@code writeStallTimeout} is closed.
 */
class UnreadAnswersTest {

  private static final Duration DEADLINE = TestMeshes.DEADLINE;
  private static final ServiceUrl ECHO = ServiceUrl.parse("game.zone1.echo/1");
  private static final int MAX_PENDING_SENDS = 64;
  private static final int FLOOD = 20_000;

  private final TestMeshes meshes = TestMeshes.withNameServer();
  private RawPeer peer;

  @AfterEach
  void close() {
    if (peer != null) {
      peer.connection().disposeNow();
    }
    meshes.close();
  }

  @Test
  void aPeerThatReadsNoneOfItsRepliesIsNotReadEitherAndLosesNothingOnceItReads() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    connectNotReading(b -> b.maxPendingSends(MAX_PENDING_SENDS).meterRegistry(registry));

    ByteString payload = ByteString.copyFrom(new byte[1024]);
    AtomicLong generated = new AtomicLong();
    Mono<Void> flood =
        peer.connection()
            .outbound()
            .sendObject(
                Flux.range(1, FLOOD)
                    .doOnNext(i -> generated.incrementAndGet())
                    .map(
                        i ->
                            RawPeer.request(
                                i,
                                "game.zone1.client/1",
                                ECHO.toString(),
                                "Echo",
                                List.of(),
                                payload)))
            .then()
            .cache();
    flood.subscribe(v -> {}, e -> {});

    // The mesh stops reading, the peer's socket fills and its flood stops being generated.
    TestPeers.awaitStalled(generated::get, DEADLINE);
    System.out.printf(
        "stalled after %d of %d requests; %.0f sends queued in the mesh%n",
        generated.get(), FLOOD, queuedSends(registry));
    assertThat(generated.get()).isLessThan(FLOOD);
    assertThat(pausedReads(registry)).isPositive();
    // What waits in the mesh is the mark (twice maxPendingSends) and the frames of the reads that
    // crossed it (16 reads of up to 64 KiB: about 1,000 such requests), not the flood.
    assertThat(queuedSends(registry)).isLessThan(2_500);

    // Meanwhile another caller is served.
    MeshService caller = register(meshes.mesh(), "game.zone1.caller/1");
    StepVerifier.create(caller.request(ECHO, "Echo", ByteString.copyFromUtf8("hi")))
        .assertNext(reply -> assertThat(reply.payload().toStringUtf8()).isEqualTo("hi"))
        .expectComplete()
        .verify(DEADLINE);

    peer.connection().channel().config().setAutoRead(true);
    StepVerifier.create(flood).expectComplete().verify(DEADLINE);
    await()
        .atMost(DEADLINE)
        .until(() -> peer.frames.stream().filter(PeerFrame::hasResponse).count() == FLOOD);
    assertThat(peer.frames)
        .filteredOn(PeerFrame::hasResponse)
        .allSatisfy(
            frame -> {
              assertThat(frame.getResponse().getStatus().getCode()).isEqualTo(StatusCode.OK);
              assertThat(frame.getResponse().getPayload()).isEqualTo(payload);
            });
  }

  @Test
  void aPeerThatReadsNothingForTheWriteStallTimeoutIsClosedAndItsRequestsFail() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    connectNotReading(
        b ->
            b.maxPendingSends(MAX_PENDING_SENDS)
                .writeStallTimeout(Duration.ofMillis(500))
                .meterRegistry(registry));

    ByteString payload = ByteString.copyFrom(new byte[1024]);
    peer.connection()
        .outbound()
        .sendObject(
            Flux.range(1, FLOOD)
                .map(
                    i ->
                        RawPeer.request(
                            i, "game.zone1.client/1", ECHO.toString(), "Echo", List.of(), payload)))
        .then()
        .subscribe(v -> {}, e -> {});

    // Nothing of the replies is read: the mesh closes the connection instead of keeping them.
    StepVerifier.create(peer.connection().onDispose()).expectComplete().verify(DEADLINE);
    await().atMost(DEADLINE).until(() -> stalledWrites(registry) == 1);
    await().atMost(DEADLINE).until(() -> queuedSends(registry) == 0);
    assertThat(peer.frames.stream().filter(PeerFrame::hasResponse).count()).isLessThan(FLOOD);

    // The mesh serves others on.
    MeshService caller = register(meshes.mesh(), "game.zone1.caller/1");
    StepVerifier.create(caller.request(ECHO, "Echo", ByteString.copyFromUtf8("hi")))
        .assertNext(reply -> assertThat(reply.payload().toStringUtf8()).isEqualTo("hi"))
        .expectComplete()
        .verify(DEADLINE);
    assertThat(stalledWrites(registry)).isEqualTo(1);
  }

  /**
   * Starts a mesh with an echo service, and a raw peer that says hello to it and then stops
   * reading.
   */
  private void connectNotReading(UnaryOperator<MeshBuilder> settings) {
    Mesh server = meshes.mesh(settings);
    register(
        server,
        ECHO.toString(),
        Methods.builder().add("Echo", request -> Mono.just(Reply.of(request.payload()))).build());
    peer = RawPeer.connect(server.listenAddress());
    peer.send(PeerFrame.newBuilder().setHello(RawPeer.hello("raw", "game")).build());
    await().atMost(DEADLINE).until(() -> !peer.frames.isEmpty());
    peer.connection().channel().config().setAutoRead(false);
  }

  private static double stalledWrites(SimpleMeterRegistry registry) {
    return registry.find("skymesh.mesh.peer.writes.stalled").counters().stream()
        .mapToDouble(Counter::count)
        .sum();
  }

  private static double pausedReads(SimpleMeterRegistry registry) {
    return registry.find("skymesh.mesh.peer.reads.paused").functionCounters().stream()
        .mapToDouble(FunctionCounter::count)
        .sum();
  }

  private static double queuedSends(SimpleMeterRegistry registry) {
    return registry.find("skymesh.mesh.peer.outbound.queued").gauges().stream()
        .mapToDouble(Gauge::value)
        .sum();
  }
}

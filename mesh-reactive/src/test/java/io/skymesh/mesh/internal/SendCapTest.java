package io.skymesh.mesh.internal;

import static io.skymesh.mesh.TestMeshes.DEADLINE;
import static io.skymesh.mesh.TestMeshes.register;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.OverloadedException;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.TestMeshes;
import io.skymesh.mesh.internal.transport.PeerConnection;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/** The cap on sends waiting per connection, against a stalled receiver. */
class SendCapTest {

  private static final int SENDS = 50_000;
  private static final int CAP = 4_096;
  private static final int PAYLOAD = 1_024;
  private static final ServiceUrl RECEIVER = ServiceUrl.parse("game.zone1.chat/1");

  private TestMeshes fixture;

  @BeforeEach
  void start() {
    fixture = TestMeshes.withNameServer();
  }

  @AfterEach
  void closeEverything() {
    fixture.close();
  }

  @Test
  void fiftyThousandSendsAtAStalledReceiverAreCappedAndNothingElseIsLost() {
    DefaultMesh a =
        (DefaultMesh)
            fixture.mesh(builder -> builder.maxPendingSends(CAP).pingInterval(Duration.ZERO));
    // A receiver that stalls for good: its full inbound queue holds the connection throughout.
    DefaultMesh b =
        (DefaultMesh)
            fixture.mesh(
                builder -> builder.pingInterval(Duration.ZERO).inboundHold(Duration.ofMinutes(5)));
    Sinks.Empty<Void> gate = Sinks.empty();
    AtomicLong received = new AtomicLong();
    register(
        b,
        RECEIVER.toString(),
        message -> {
          received.incrementAndGet();
          return gate.asMono();
        });
    MeshService sender = register(a, "game.zone1.lobby/1");
    // The connection exists and the receiver's handler holds it.
    sender.sendTo(RECEIVER, payload(-1)).block(DEADLINE);
    await().atMost(DEADLINE).until(() -> received.get() == 1);
    PeerConnection toB = connectionTo(a, b.listenAddress());

    MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
    long before = usedHeapAfterGc(memory);
    AtomicLong completed = new AtomicLong();
    AtomicLong refused = new AtomicLong();
    AtomicLong otherErrors = new AtomicLong();
    Mono<Void> all =
        Flux.range(0, SENDS)
            .flatMap(
                i ->
                    sender
                        .sendTo(RECEIVER, payload(i))
                        .doOnSuccess(ignored -> completed.incrementAndGet())
                        .onErrorResume(
                            error -> {
                              (error instanceof OverloadedException ? refused : otherErrors)
                                  .incrementAndGet();
                              return Mono.empty();
                            }),
                SENDS)
            .then()
            .cache();
    all.subscribe();

    // Stalled: every send is written to the socket, refused, or one of the capped few waiting.
    await()
        .atMost(DEADLINE)
        .until(
            () ->
                completed.get() + refused.get() + toB.pendingOutboundFrames() == SENDS
                    && refused.get() > 0);
    long during = usedHeapAfterGc(memory);
    assertThat(toB.pendingOutboundFrames()).isLessThanOrEqualTo(CAP);
    assertThat(toB.refusedSends()).isEqualTo(refused.get());
    assertThat(refused.get()).isGreaterThanOrEqualTo(SENDS - CAP - completed.get());
    // Unbounded, 50,000 sends of 1 KB held at least 50 MB; capped, the waiting ones hold 4 MB.
    assertThat(during - before).as("heap held by the stalled sends").isLessThan(24L << 20);

    gate.tryEmitEmpty();
    all.block(DEADLINE);
    assertThat(otherErrors.get()).isZero();
    assertThat(completed.get() + refused.get()).isEqualTo(SENDS);
    // Nothing accepted is lost: every completed send reaches the handler.
    await().atMost(DEADLINE).until(() -> received.get() == 1 + completed.get());
    assertThat(sender.undeliveredCount()).isZero();
  }

  private static PeerConnection connectionTo(DefaultMesh mesh, String address) {
    return mesh.transport().connections().stream()
        .filter(connection -> connection.remoteAddress().equals(address))
        .findFirst()
        .orElseThrow();
  }

  private static long usedHeapAfterGc(MemoryMXBean memory) {
    System.gc();
    return memory.getHeapMemoryUsage().getUsed();
  }

  private static ByteString payload(long sequence) {
    byte[] bytes = new byte[PAYLOAD];
    ByteBuffer.wrap(bytes).putLong(sequence);
    return ByteString.copyFrom(bytes);
  }
}

package io.skymesh.mesh.internal;

import static io.skymesh.mesh.TestMeshes.DEADLINE;
import static io.skymesh.mesh.TestMeshes.register;
import static io.skymesh.mesh.TestMeshes.sequence;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.OverloadedException;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.TestMeshes;
import io.skymesh.proto.StatusCode;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/** Two services of one process share a connection; one handler stalls; the other keeps its pace. */
class FairnessTest {

  private static final ServiceUrl STALLED = ServiceUrl.parse("game.zone1.stalled/1");
  private static final ServiceUrl FAST = ServiceUrl.parse("game.zone1.fast/1");
  private static final int MESSAGES = 10_000;
  private static final int ROUNDS = 4;

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
  void aStalledHandlerDoesNotSlowAnotherServiceOnTheSameConnection() {
    DefaultMesh a = (DefaultMesh) fixture.mesh(builder -> builder.pingInterval(Duration.ZERO));
    DefaultMesh b =
        (DefaultMesh)
            fixture.mesh(
                builder ->
                    builder
                        .pingInterval(Duration.ZERO)
                        .inboundQueuePerService(256)
                        .inboundHold(Duration.ofMillis(50)));
    Sinks.Empty<Void> gate = Sinks.empty();
    AtomicLong stalledGot = new AtomicLong();
    AtomicLong fastGot = new AtomicLong();
    register(
        b,
        STALLED.toString(),
        message -> {
          stalledGot.incrementAndGet();
          return gate.asMono();
        });
    register(
        b,
        FAST.toString(),
        message -> {
          fastGot.incrementAndGet();
          return Mono.empty();
        });
    MeshService fastSender = register(a, "game.zone1.lobby/1");
    MeshService stalledSender = register(a, "game.zone1.lobby/2");

    rate(fastSender, fastGot); // warm-up, and the connection
    rate(fastSender, fastGot);

    // The stalled service's sender sends one message a millisecond, while `loading` is set, into a
    // handler that never completes: its queue fills, holds the connection for at most 50 ms, then
    // its messages are refused.
    AtomicBoolean loading = new AtomicBoolean(true);
    Disposable stalling =
        Flux.interval(Duration.ofMillis(1))
            .onBackpressureDrop()
            .filter(tick -> loading.get())
            .concatMap(
                tick ->
                    stalledSender
                        .sendTo(STALLED, sequence(tick))
                        // The connection's send cap may refuse some; they are counted there.
                        .onErrorResume(OverloadedException.class, e -> Mono.empty()))
            .subscribe();
    // Rounds alternate, so that the machine's drifting load and the JIT weigh on both alike.
    double unloaded = 0;
    double loaded = 0;
    try {
      await().atMost(DEADLINE).until(() -> stalledSender.undeliveredCount() > 0);
      for (int round = 0; round < ROUNDS; round++) {
        loading.set(true);
        loaded += rate(fastSender, fastGot) / ROUNDS;
        loading.set(false);
        unloaded += rate(fastSender, fastGot) / ROUNDS;
      }
    } finally {
      stalling.dispose();
    }
    assertThat(stalledGot.get()).as("the stalled handler took one message and held it").isOne();
    gate.tryEmitEmpty();

    assertThat(loaded)
        .as("messages/s to the other service: %.0f stalled beside it, %.0f alone", loaded, unloaded)
        .isGreaterThan(unloaded / 2);
    // Every refusal the receiver counted reaches the sender.
    await()
        .atMost(DEADLINE)
        .until(
            () ->
                b.dataPlane().dropped(StatusCode.RESOURCE_EXHAUSTED)
                    == stalledSender.undeliveredCount());
  }

  /** Sends {@value #MESSAGES} messages to {@link #FAST}; messages per second until all arrived. */
  private static double rate(MeshService sender, AtomicLong received) {
    long base = received.get();
    long start = System.nanoTime();
    Flux.range(0, MESSAGES)
        .flatMap(i -> sender.sendTo(FAST, sequence(i)), 256)
        .then()
        .block(DEADLINE);
    await().atMost(DEADLINE).until(() -> received.get() == base + MESSAGES);
    return MESSAGES * 1e9 / (System.nanoTime() - start);
  }
}

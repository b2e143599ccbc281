package io.skymesh.mesh.internal.transport;

import static io.skymesh.mesh.internal.transport.TestPeers.DEADLINE;
import static io.skymesh.mesh.internal.transport.TestPeers.data;
import static io.skymesh.mesh.internal.transport.TestPeers.sequence;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/**
 * Volume, order and backpressure between two transports. Long waits use {@code block}, which parks,
 * rather than {@code StepVerifier.verify}, which polls and would take one of the two cores of a CI
 * machine away from the event loops.
 */
class PeerFlowTest {

  /** Frames for the slow-receiver test; the issue asks for 1,000,000. */
  private static final int FLOOD = Integer.getInteger("skymesh.test.floodFrames", 1_000_000);

  /**
   * The most frames a receiver may hold undispatched: its prefetch, plus the frames decoded from
   * one socket read (64 KiB at most) of frames of about 40 bytes. The point is that it is not the
   * flood.
   */
  private static final long MAX_BACKLOG = 64 + 65536 / 30;

  private static final Duration LONG_DEADLINE = Duration.ofSeconds(60);

  private final TestPeers peers = new TestPeers();

  @AfterEach
  void closeTransports() {
    peers.close();
  }

  @Test
  void hundredThousandFramesArriveAllAndInOrder() {
    int count = 100_000;
    OrderChecker checker = new OrderChecker(count);
    PeerTransport a = peers.start(InboundDispatcher.discarding());
    PeerTransport b = peers.start(checker);
    PeerConnection toB = a.connection(b.listenAddress()).block(DEADLINE);

    long start = System.nanoTime();
    Flux.range(0, count).flatMap(i -> toB.send(data(i)), 256).then().block(LONG_DEADLINE);
    checker.all.asMono().block(LONG_DEADLINE);
    long nanos = System.nanoTime() - start;

    assertThat(checker.outOfOrder.get()).isZero();
    assertThat(checker.received.get()).isEqualTo(count);
    System.out.printf(
        "hundredThousandFramesArriveAllAndInOrder: %d frames in %d ms (%.0f frames/s)%n",
        count, nanos / 1_000_000, count / (nanos / 1e9));
  }

  @Test
  void aSlowReceiverSlowsTheSenderDownAndLosesNothing() {
    int limit = 256;
    int prefetch = 64;
    Sinks.Empty<Void> gate = Sinks.empty();
    AtomicLong maxBacklog = new AtomicLong();
    AtomicBoolean open = new AtomicBoolean();
    OrderChecker checker = new OrderChecker(FLOOD);
    PeerTransport a = peers.start(c -> c.outboundQueueLimit(limit), InboundDispatcher.discarding());
    PeerTransport b =
        peers.start(
            c -> c.inboundPrefetch(prefetch),
            in -> {
              maxBacklog.accumulateAndGet(in.connection().inboundBacklog(), Math::max);
              checker.dispatch(in);
              // Until the test opens the gate, the very first frame holds the connection up.
              return open.get() ? Mono.empty() : gate.asMono();
            });
    PeerConnection toB = a.connection(b.listenAddress()).block(DEADLINE);
    AtomicLong generated = new AtomicLong();
    AtomicLong maxPending = new AtomicLong();

    long start = System.nanoTime();
    Mono<Void> sent =
        Flux.range(0, FLOOD)
            .doOnNext(
                i -> {
                  generated.incrementAndGet();
                  maxPending.accumulateAndGet(toB.pendingOutboundFrames(), Math::max);
                })
            .flatMap(i -> toB.send(data(i)), 1024)
            .then()
            .cache();
    sent.subscribe(v -> {}, e -> {});

    // The sender stalls: nothing is dispatched, so B stops reading, A's socket fills, A's sends
    // stop completing and the generator stops being asked for more.
    TestPeers.awaitStalled(generated::get, LONG_DEADLINE);
    long stalledAt = generated.get();
    PeerConnection atB = checker.connection;
    System.out.printf(
        "aSlowReceiverSlowsTheSenderDown: stalled after %d of %d frames; A pending %d, B backlog"
            + " %d%n",
        stalledAt, FLOOD, toB.pendingOutboundFrames(), atB.inboundBacklog());
    assertThat(stalledAt).isLessThan(FLOOD);
    assertThat(checker.received.get()).isEqualTo(1);
    assertThat(toB.pendingOutboundFrames()).isLessThanOrEqualTo(1024);
    // What B holds is its prefetch plus one socket read's worth of frames, not the flood.
    assertThat(atB.inboundBacklog()).isLessThanOrEqualTo(MAX_BACKLOG);

    open.set(true);
    gate.tryEmitEmpty();
    sent.block(LONG_DEADLINE);
    checker.all.asMono().block(LONG_DEADLINE);
    long nanos = System.nanoTime() - start;

    assertThat(checker.received.get()).isEqualTo(FLOOD);
    assertThat(checker.outOfOrder.get()).isZero();
    assertThat(maxPending.get()).isLessThanOrEqualTo(1024);
    assertThat(maxBacklog.get()).isLessThanOrEqualTo(MAX_BACKLOG);
    System.out.printf(
        "aSlowReceiverSlowsTheSenderDown: %d frames in %d ms (%.0f frames/s); max A pending %d,"
            + " max B backlog %d%n",
        FLOOD, nanos / 1_000_000, FLOOD / (nanos / 1e9), maxPending.get(), maxBacklog.get());
  }

  /** Counts Data frames and checks that each one's sequence is one more than the previous one. */
  static final class OrderChecker implements InboundDispatcher {
    final AtomicLong received = new AtomicLong();
    final AtomicLong outOfOrder = new AtomicLong();
    final Sinks.Empty<Void> all = Sinks.empty();
    private final long expected;
    private long next;
    volatile PeerConnection connection;

    OrderChecker(long expected) {
      this.expected = expected;
    }

    @Override
    public Mono<Void> dispatch(InboundFrame in) {
      this.dispatch((Object) in);
      return Mono.empty();
    }

    /** Called serially (one connection). */
    void dispatch(Object frame) {
      InboundFrame in = (InboundFrame) frame;
      if (!in.peerFrame().hasData()) {
        return;
      }
      connection = in.connection();
      if (sequence(in.peerFrame()) != next) {
        outOfOrder.incrementAndGet();
      }
      next = sequence(in.peerFrame()) + 1;
      if (received.incrementAndGet() == expected) {
        all.tryEmitEmpty();
      }
    }
  }
}

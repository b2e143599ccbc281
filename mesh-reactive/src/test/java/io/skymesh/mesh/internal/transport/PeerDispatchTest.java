package io.skymesh.mesh.internal.transport;

import static io.skymesh.mesh.internal.transport.TestPeers.DEADLINE;
import static io.skymesh.mesh.internal.transport.TestPeers.data;
import static io.skymesh.mesh.internal.transport.TestPeers.sequence;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.skymesh.codec.Headers;
import io.skymesh.core.exceptions.PeerUnavailableException;
import io.skymesh.proto.PeerFrame;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.CoreSubscriber;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.test.StepVerifier;

/** The dispatcher's contract, and what happens to sends that wait for room. */
class PeerDispatchTest {

  private final TestPeers peers = new TestPeers();

  @AfterEach
  void closeTransports() {
    peers.close();
  }

  @Test
  void dispatchIsSerialInOrderAndOnTheEventLoopEvenWhenTheDispatcherCompletesElsewhere() {
    int count = 500;
    Queue<String> threads = new ConcurrentLinkedQueue<>();
    Queue<Long> order = new ConcurrentLinkedQueue<>();
    AtomicInteger inFlight = new AtomicInteger();
    AtomicInteger overlaps = new AtomicInteger();
    PeerTransport a = peers.start(InboundDispatcher.discarding());
    PeerTransport b =
        peers.start(
            in -> {
              threads.add(Thread.currentThread().getName());
              order.add(sequence(in.peerFrame()));
              if (inFlight.incrementAndGet() != 1) {
                overlaps.incrementAndGet();
              }
              long n = sequence(in.peerFrame());
              // Every 10th frame completes later, on a timer thread of the parallel scheduler.
              Mono<Void> done =
                  n % 10 == 0 ? Mono.delay(Duration.ofMillis(1)).then() : Mono.empty();
              return done.doOnTerminate(inFlight::decrementAndGet);
            });
    PeerConnection toB = a.connection(b.listenAddress()).block(DEADLINE);

    Flux.range(0, count).flatMap(i -> toB.send(data(i)), 64).then().block(DEADLINE);

    await().atMost(DEADLINE).until(() -> order.size() == count);
    assertThat(List.copyOf(order)).isSorted();
    assertThat(overlaps.get()).isZero();
    assertThat(threads).hasSize(count).allMatch(name -> name.equals(threads.peek()));
    assertThat(threads.peek()).startsWith("reactor-tcp");
  }

  @Test
  void aFailingDispatcherIsLoggedAndTheConnectionGoesOn() {
    Queue<Long> handled = new ConcurrentLinkedQueue<>();
    PeerTransport a = peers.start(InboundDispatcher.discarding());
    PeerTransport b =
        peers.start(
            in -> {
              long n = sequence(in.peerFrame());
              if (n == 0) {
                throw new IllegalStateException("thrown by the dispatcher");
              }
              if (n == 1) {
                return Mono.error(new IllegalStateException("signalled by the dispatcher"));
              }
              if (n == 2) {
                return Mono.delay(Duration.ofMillis(1))
                    .then(Mono.error(new IllegalStateException("signalled later")));
              }
              if (n == 3) {
                return new Mono<Void>() {
                  @Override
                  public void subscribe(CoreSubscriber<? super Void> actual) {
                    throw new IllegalStateException("thrown from subscribe");
                  }
                };
              }
              handled.add(n);
              return Mono.empty();
            });
    PeerConnection toB = a.connection(b.listenAddress()).block(DEADLINE);

    Flux.range(0, 6).concatMap(i -> toB.send(data(i))).then().block(DEADLINE);

    await().atMost(DEADLINE).until(() -> handled.size() == 2);
    assertThat(handled).containsExactly(4L, 5L);
    assertThat(toB.isOpen()).isTrue();
  }

  @Test
  void cancellingASendThatWaitsForRoomWithdrawsIt() {
    int count = 200;
    Sinks.Empty<Void> gate = Sinks.empty();
    AtomicBoolean open = new AtomicBoolean();
    Queue<Long> arrived = new ConcurrentLinkedQueue<>();
    PeerTransport a = peers.start(InboundDispatcher.discarding());
    PeerTransport b =
        peers.start(
            c -> c.inboundPrefetch(1),
            in -> {
              arrived.add(sequence(in.peerFrame()));
              return open.get() ? Mono.empty() : gate.asMono();
            });
    PeerConnection toB = a.connection(b.listenAddress()).block(DEADLINE);
    ByteString payload = ByteString.copyFrom(new byte[64 * 1024]);

    // 200 frames of 64 KiB are more than the sockets and the write buffer take: A's queue stalls.
    Mono<Void> flood =
        Flux.range(0, count).flatMap(i -> toB.send(big(i, payload)), count).then().cache();
    flood.subscribe(v -> {}, e -> {});
    TestPeers.awaitStalled(toB::pendingOutboundFrames, DEADLINE);
    int stalled = toB.pendingOutboundFrames();

    AtomicBoolean signalled = new AtomicBoolean();
    Disposable withdrawn =
        toB.send(data(999_999))
            .subscribe(v -> {}, e -> signalled.set(true), () -> signalled.set(true));
    assertThat(toB.pendingOutboundFrames()).isEqualTo(stalled + 1);
    withdrawn.dispose();
    assertThat(toB.pendingOutboundFrames()).isEqualTo(stalled);

    open.set(true);
    gate.tryEmitEmpty();
    flood.block(DEADLINE);
    toB.send(data(count)).block(DEADLINE);

    await().atMost(DEADLINE).until(() -> arrived.size() == count + 1);
    assertThat(List.copyOf(arrived)).doesNotContain(999_999L).isSorted();
    assertThat(signalled).isFalse();
    assertThat(toB.pendingOutboundFrames()).isZero();
  }

  @Test
  void anAllocatorFailureClosesTheConnectionAndFailsItsSendsInsteadOfHanging() {
    FailingAllocator allocator = new FailingAllocator();
    TestPeers.Recorder atB = new TestPeers.Recorder();
    PeerTransport a = peers.start(c -> c.allocator(allocator), InboundDispatcher.discarding());
    PeerTransport b = peers.start(atB);
    PeerConnection toB = a.connection(b.listenAddress()).block(DEADLINE);
    toB.send(data(1)).block(DEADLINE);

    allocator.failing = true;
    StepVerifier.create(toB.send(data(2)))
        .expectErrorSatisfies(
            e ->
                assertThat(e)
                    .isInstanceOf(PeerUnavailableException.class)
                    .hasRootCauseMessage("allocator says no"))
        .verify(DEADLINE);
    StepVerifier.create(toB.onClose()).expectComplete().verify(DEADLINE);
    assertThat(toB.pendingOutboundFrames()).isZero();

    allocator.failing = false;
    PeerConnection again = a.connection(b.listenAddress()).block(DEADLINE);
    again.send(data(3)).block(DEADLINE);
    await().atMost(DEADLINE).until(() -> atB.frames.size() == 2);
  }

  /** Pooled direct buffers, until told to fail. */
  private static final class FailingAllocator extends AbstractByteBufAllocator {
    volatile boolean failing;

    FailingAllocator() {
      super(true);
    }

    @Override
    protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
      return newDirectBuffer(initialCapacity, maxCapacity);
    }

    @Override
    protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
      if (failing) {
        throw new IllegalStateException("allocator says no");
      }
      return PooledByteBufAllocator.DEFAULT.directBuffer(initialCapacity, maxCapacity);
    }

    @Override
    public boolean isDirectBufferPooled() {
      return true;
    }
  }

  private static PeerFrame big(long sequence, ByteString padding) {
    PeerFrame frame = data(sequence);
    return frame.toBuilder()
        .setData(
            frame.getData().toBuilder()
                .addAllHeaders(Headers.fromMap(Map.of("padding", "x")))
                .setPayload(frame.getData().getPayload().concat(padding)))
        .build();
  }
}

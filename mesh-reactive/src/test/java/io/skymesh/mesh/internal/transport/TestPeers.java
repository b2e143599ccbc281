package io.skymesh.mesh.internal.transport;

import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.skymesh.proto.Data;
import io.skymesh.proto.PeerFrame;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.function.UnaryOperator;
import reactor.core.publisher.Mono;

/** Starts transports on loopback for a test and closes them after it; frames for tests. */
final class TestPeers implements AutoCloseable {

  static final Duration DEADLINE = Duration.ofSeconds(10);

  private final List<PeerTransport> transports = new ArrayList<>();

  /** Binds a transport with the default configuration. */
  PeerTransport start(InboundDispatcher dispatcher) {
    return start(UnaryOperator.identity(), dispatcher);
  }

  /** Binds a transport whose configuration {@code config} adjusts. */
  PeerTransport start(
      UnaryOperator<PeerTransportConfig.Builder> config, InboundDispatcher dispatcher) {
    PeerTransport transport =
        PeerTransport.create(config.apply(PeerTransportConfig.builder()).build(), dispatcher);
    transports.add(transport);
    return transport.bind().block(DEADLINE);
  }

  @Override
  public void close() {
    for (PeerTransport transport : transports) {
      transport.close().block(DEADLINE);
    }
  }

  /** A Data frame whose payload is {@code sequence} as 8 big-endian bytes. */
  static PeerFrame data(long sequence) {
    return PeerFrame.newBuilder()
        .setData(
            Data.newBuilder()
                .setSource("app.env.sender/1")
                .setDestination("app.env.receiver/1")
                .setPayload(ByteString.copyFrom(ByteBuffer.allocate(8).putLong(0, sequence))))
        .build();
  }

  /**
   * Waits until {@code count} has moved and stopped: two readings 200 ms apart are equal and above
   * zero. A flood that backpressure has stalled stops being generated, or stops leaving its queue.
   */
  static void awaitStalled(LongSupplier count, Duration deadline) {
    AtomicLong last = new AtomicLong(-1);
    await()
        .atMost(deadline)
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              long now = count.getAsLong();
              return now > 0 && now == last.getAndSet(now);
            });
  }

  /** The sequence number {@link #data} put in a frame. */
  static long sequence(PeerFrame frame) {
    return frame.getData().getPayload().asReadOnlyByteBuffer().getLong();
  }

  /** A dispatcher that keeps every frame it is given. */
  static final class Recorder implements InboundDispatcher {
    final Queue<InboundFrame> frames = new ConcurrentLinkedQueue<>();

    @Override
    public Mono<Void> dispatch(InboundFrame frame) {
      frames.add(frame);
      return Mono.empty();
    }
  }
}

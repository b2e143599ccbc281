package io.skymesh.mesh.internal.transport;

import io.skymesh.core.ServiceUrl;
import io.skymesh.proto.PeerFrame;
import io.skymesh.proto.Status;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import org.jspecify.annotations.Nullable;
import reactor.core.publisher.Mono;

/**
 * One multiplexed connection to a remote mesh process, after a completed {@code Hello} exchange.
 * Carries the traffic of every instance of both processes. Thread-safe: any thread may send.
 */
public interface PeerConnection {

  /**
   * The remote process's listen address, {@code host:port}: the address this side dialed, or, for a
   * connection the peer opened, the address its {@code Hello} announced (not verified).
   */
  String remoteAddress();

  /** The remote process's id, from its {@code Hello}. */
  String remoteProcessId();

  /** The remote process's appId, from its {@code Hello}. */
  String remoteAppId();

  /**
   * Why a {@code Data} or {@code Request} from {@code source} may not be delivered, or null if it
   * may: when this mesh requires peer tickets, a source outside the app of the peer's ticket is
   * {@code PERMISSION_DENIED}, and everything after the ticket expired unrenewed {@code
   * UNAUTHENTICATED}.
   *
   * @param source the frame's source
   * @return the refusal, or null
   */
  default @Nullable Status refusal(ServiceUrl source) {
    return null;
  }

  /** Whether the peer opened this connection (it was accepted by this side's listener). */
  boolean isInbound();

  /**
   * Whether the connection takes new work: it is open, and neither side has sent {@code GoAway}.
   */
  boolean isOpen();

  /**
   * Sends one frame. Lazy: nothing happens until subscription, and each subscription sends the
   * frame once more.
   *
   * <p>Completes, on the connection's event loop, when the frame has been written to the socket
   * (not when the peer has read it). Frames are written in the order their {@code Mono}s were
   * subscribed. When more than {@link PeerTransportConfig#outboundQueueLimit()} frames are waiting
   * for the socket, or the socket's write buffer is over its high water mark, the {@code Mono}
   * waits, without holding a thread, until there is room: that is the backpressure. Cancelling
   * before the frame is taken for writing withdraws it; after that, it is written anyway.
   *
   * <p>Errors: {@code PeerUnavailableException} if the connection is closed or closes before the
   * frame is written, or if it is a {@code Data} or {@code Request} and the peer has sent {@code
   * GoAway}; {@code MeshClosedException} if the local transport is closing; {@code
   * OverloadedException} if the frame is larger than the maximum frame length. Never a silent drop.
   *
   * @param frame the frame, usually {@code Data}, {@code Request}, {@code Response} or {@code
   *     Cancel}
   * @return completes when the frame is written
   */
  default Mono<Void> send(PeerFrame frame) {
    return send(OutboundFrame.of(frame));
  }

  /**
   * Sends a frame, as {@link #send(PeerFrame)} does; for frames written by hand ({@link
   * OutboundRequest}, {@link OutboundResponse}) as well as protobuf ones.
   *
   * @param frame the frame
   * @return completes when the frame is written
   */
  Mono<Void> send(OutboundFrame frame);

  /**
   * Measures a round trip: sends a {@code Ping} and completes with the time until its {@code Pong}.
   * The peer answers after dispatching the frames that arrived before the {@code Ping}, so a busy
   * peer shows a longer round trip. No timeout is applied: add one with {@code timeout}.
   *
   * @return the round-trip time, positive; {@code PeerUnavailableException} if the connection
   *     closes first
   */
  Mono<Duration> ping();

  /** Completes when the connection has closed, for whatever reason. Never errors. */
  Mono<Void> onClose();

  /** Sends subscribed and not yet written, failed or cancelled; an instant reading. */
  int pendingOutboundFrames();

  /**
   * The connection's event loop: tasks run there one at a time, in order with the dispatch of its
   * inbound frames.
   */
  ScheduledExecutorService executor();

  /**
   * How many {@code Data} and {@code Request} sends this connection refused with {@code
   * OverloadedException} because {@code maxPendingSends} sends waited already.
   */
  long refusedSends();

  /**
   * How many times this connection stopped reading because the peer had not read the answers to
   * {@code maxPendingSends} or more of its requests and messages; 0 if not counted.
   */
  default long backlogPauses() {
    return 0;
  }

  /**
   * Whether this connection closed because frames waited in or for its socket with nothing written
   * for {@code writeStallTimeout}; false if not tracked.
   */
  default boolean closedByWriteStall() {
    return false;
  }

  /** Frames received and not yet passed to the dispatcher; an instant, approximate reading. */
  long inboundBacklog();

  /** Buffers written to the socket so far, each holding one or more frames; 0 if not counted. */
  default long writeBatches() {
    return 0;
  }

  /** Frames written to the socket so far, in {@link #writeBatches()}; 0 if not counted. */
  default long framesWritten() {
    return 0;
  }
}

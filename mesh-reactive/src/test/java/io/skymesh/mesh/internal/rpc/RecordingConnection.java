package io.skymesh.mesh.internal.rpc;

import io.skymesh.mesh.internal.transport.OutboundFrame;
import io.skymesh.mesh.internal.transport.PeerConnection;
import io.skymesh.proto.PeerFrame;
import java.time.Duration;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/** A connection that only records the frames it is asked to send, parsed as they would arrive. */
final class RecordingConnection implements PeerConnection {

  final Queue<PeerFrame> sent = new ConcurrentLinkedQueue<>();
  final Sinks.Empty<Void> closed = Sinks.empty();

  List<Long> streamIds() {
    return sent.stream().map(f -> f.getRequest().getStreamId()).toList();
  }

  @Override
  public String remoteAddress() {
    return "127.0.0.1:1";
  }

  @Override
  public String remoteProcessId() {
    return "remote";
  }

  @Override
  public String remoteAppId() {
    return "a";
  }

  @Override
  public boolean isInbound() {
    return false;
  }

  @Override
  public boolean isOpen() {
    return true;
  }

  @Override
  public Mono<Void> send(OutboundFrame frame) {
    return Mono.fromCallable(() -> sent.add(PeerFrame.parseFrom(frame.toByteArray()))).then();
  }

  @Override
  public Mono<Duration> ping() {
    return Mono.never();
  }

  @Override
  public Mono<Void> onClose() {
    return closed.asMono();
  }

  @Override
  public int pendingOutboundFrames() {
    return 0;
  }

  @Override
  public java.util.concurrent.ScheduledExecutorService executor() {
    throw new UnsupportedOperationException("not used by these tests");
  }

  @Override
  public long refusedSends() {
    return 0;
  }

  @Override
  public long inboundBacklog() {
    return 0;
  }
}

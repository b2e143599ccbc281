package io.skymesh.mesh.internal.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.skymesh.mesh.internal.transport.PeerConnection;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.ToLongFunction;
import reactor.netty.channel.ChannelMetricsRecorder;

/**
 * The meters of peer connections. Connections are grouped by the remote process's app id (bounded,
 * unlike addresses and process ids): each group's gauges read its open connections when scraped,
 * and its counters add what its closed connections had counted, so they never go down. A group's
 * meters are removed when its last connection closes, and registered again by the next one.
 *
 * <p>Bytes, connect times and socket errors come from Reactor Netty's own metrics hook: the
 * transport installs the {@link ChannelMetricsRecorder}s of {@link #recorder(boolean)}, which count
 * into this mesh's registry rather than Micrometer's global one.
 */
public final class ConnectionMeters {

  private final MeshMetrics metrics;
  private final MeterRegistry registry;
  private final Map<String, Group> groups = new HashMap<>();
  private final Counter[] opened = new Counter[2];
  private final Counter[] closed = new Counter[2];
  private final Counter[] stalled = new Counter[2];
  private volatile RequestLoad requests = RequestLoad.NONE;

  ConnectionMeters(MeshMetrics metrics, MeterRegistry registry) {
    this.metrics = metrics;
    this.registry = registry;
    for (int i = 0; i < 2; i++) {
      Tags direction = Tags.of("direction", direction(i == 0));
      opened[i] =
          metrics.own(
              Counter.builder(MeshMetrics.PREFIX + "peer.connections.opened")
                  .description("peer connections whose handshake completed")
                  .tags(direction)
                  .register(registry));
      closed[i] =
          metrics.own(
              Counter.builder(MeshMetrics.PREFIX + "peer.connections.closed")
                  .description("peer connections closed after their handshake")
                  .tags(direction)
                  .register(registry));
      stalled[i] =
          metrics.own(
              Counter.builder(MeshMetrics.PREFIX + "peer.writes.stalled")
                  .description(
                      "peer connections closed because sends waited for their socket with nothing"
                          + " written for writeStallTimeout")
                  .tags(direction)
                  .register(registry));
    }
  }

  /**
   * Tells the groups' request gauges where to read each peer's requests; call once, at wiring.
   *
   * @param requests the request layer's per-peer counts
   */
  public void requestLoad(RequestLoad requests) {
    this.requests = java.util.Objects.requireNonNull(requests, "requests");
  }

  private static String direction(boolean inbound) {
    return inbound ? "inbound" : "outbound";
  }

  /**
   * Counts a connection whose handshake has completed and follows it until it closes.
   *
   * @param connection the connection
   */
  public void opened(PeerConnection connection) {
    int index = connection.isInbound() ? 0 : 1;
    opened[index].increment();
    String app = connection.remoteAppId();
    synchronized (this) {
      groups.computeIfAbsent(app, Group::new).live.add(connection);
    }
    connection
        .onClose()
        .subscribe(
            null,
            null,
            () -> {
              closed[index].increment();
              if (connection.closedByWriteStall()) {
                stalled[index].increment();
              }
              closed(app, connection);
            });
  }

  private synchronized void closed(String app, PeerConnection connection) {
    Group group = groups.get(app);
    if (group == null || !group.live.remove(connection)) {
      return;
    }
    group.retire(connection);
    if (group.live.isEmpty()) {
      groups.remove(app);
      group.meters.forEach(metrics::remove);
    }
  }

  /**
   * The recorder of Reactor Netty's channel metrics for one side of the transport.
   *
   * @param inbound true for the listener's connections, false for dialed ones
   * @return the recorder
   */
  public ChannelMetricsRecorder recorder(boolean inbound) {
    return new Recorder(direction(inbound));
  }

  /** The connections to processes of one app id, and their meters. */
  private final class Group {
    final Set<PeerConnection> live = ConcurrentHashMap.newKeySet();
    final List<Meter> meters = new ArrayList<>();
    volatile long retiredBatches;
    volatile long retiredFrames;
    volatile long retiredRefused;
    volatile long retiredBacklogPauses;

    Group(String app) {
      Tags tags = Tags.of("remote.app", app);
      meters.add(
          metrics.gauge(
              "peer.connections",
              "open peer connections, both directions, after their handshake",
              tags,
              this,
              group -> group.live.size()));
      meters.add(
          metrics.gauge(
              "peer.outbound.queued",
              "sends subscribed and not yet written on these connections",
              tags,
              this,
              group -> group.sum(PeerConnection::pendingOutboundFrames)));
      meters.add(
          metrics.gauge(
              "peer.inbound.backlog",
              "frames received on these connections and not yet dispatched",
              tags,
              this,
              group -> group.sum(PeerConnection::inboundBacklog)));
      meters.add(
          metrics.gauge(
              "peer.requests.in.flight",
              "requests from this process to these processes admitted by their limiter, not ended",
              tags,
              this,
              group -> group.perProcess(true)));
      meters.add(
          metrics.gauge(
              "peer.requests.queued",
              "requests from this process to these processes waiting for a slot in their limiter",
              tags,
              this,
              group -> group.perProcess(false)));
      meters.add(
          metrics.functionCounter(
              "peer.write.batches",
              "buffers written to these connections' sockets, each holding one or more frames",
              null,
              tags,
              this,
              group -> group.retiredBatches + group.sum(PeerConnection::writeBatches)));
      meters.add(
          metrics.functionCounter(
              "peer.frames.written",
              "frames written to these connections' sockets",
              null,
              tags,
              this,
              group -> group.retiredFrames + group.sum(PeerConnection::framesWritten)));
      meters.add(
          metrics.functionCounter(
              "peer.sends.refused",
              "sends these connections refused because maxPendingSends sends waited already",
              null,
              tags,
              this,
              group -> group.retiredRefused + group.sum(PeerConnection::refusedSends)));
      meters.add(
          metrics.functionCounter(
              "peer.reads.paused",
              "times these connections stopped reading because the peer had not read the answers"
                  + " to maxPendingSends or more of its requests and messages",
              null,
              tags,
              this,
              group -> group.retiredBacklogPauses + group.sum(PeerConnection::backlogPauses)));
    }

    /** A request count over the distinct peer processes of the open connections. */
    long perProcess(boolean inFlight) {
      Set<String> addresses = new java.util.HashSet<>();
      long total = 0;
      RequestLoad load = requests;
      for (PeerConnection connection : live) {
        String address = connection.remoteAddress();
        if (addresses.add(address)) {
          total += inFlight ? load.inFlight(address) : load.queued(address);
        }
      }
      return total;
    }

    long sum(ToLongFunction<PeerConnection> value) {
      long total = 0;
      for (PeerConnection connection : live) {
        total += value.applyAsLong(connection);
      }
      return total;
    }

    /** Keeps a closed connection's counts (its final ones: it writes no more). */
    void retire(PeerConnection connection) {
      retiredBatches += connection.writeBatches();
      retiredFrames += connection.framesWritten();
      retiredRefused += connection.refusedSends();
      retiredBacklogPauses += connection.backlogPauses();
    }
  }

  /** Reactor Netty's hook, counting into the mesh's registry; tagged by direction only. */
  private final class Recorder implements ChannelMetricsRecorder {
    private final Counter received;
    private final Counter sent;
    private final Counter errors;
    private final Tags tags;
    private final Map<String, Timer> connectTimes = new ConcurrentHashMap<>();

    Recorder(String direction) {
      this.tags = Tags.of("direction", direction);
      received =
          metrics.own(
              Counter.builder(MeshMetrics.PREFIX + "peer.bytes.received")
                  .description("bytes read from peer connections' sockets")
                  .baseUnit("bytes")
                  .tags(tags)
                  .register(registry));
      sent =
          metrics.own(
              Counter.builder(MeshMetrics.PREFIX + "peer.bytes.sent")
                  .description("bytes written to peer connections' sockets")
                  .baseUnit("bytes")
                  .tags(tags)
                  .register(registry));
      errors =
          metrics.own(
              Counter.builder(MeshMetrics.PREFIX + "peer.errors")
                  .description("errors Reactor Netty saw on peer connections")
                  .tags(tags)
                  .register(registry));
    }

    @Override
    public void recordDataReceived(SocketAddress remoteAddress, long bytes) {
      received.increment(bytes);
    }

    @Override
    public void recordDataSent(SocketAddress remoteAddress, long bytes) {
      sent.increment(bytes);
    }

    @Override
    public void incrementErrorsCount(SocketAddress remoteAddress) {
      errors.increment();
    }

    @Override
    public void recordTlsHandshakeTime(SocketAddress remoteAddress, Duration time, String status) {}

    @Override
    public void recordConnectTime(SocketAddress remoteAddress, Duration time, String status) {
      Timer timer = connectTimes.get(status);
      if (timer == null) {
        timer =
            connectTimes.computeIfAbsent(
                status,
                s ->
                    metrics.own(
                        Timer.builder(MeshMetrics.PREFIX + "peer.connect.time")
                            .description("time to open a TCP connection to a peer, by outcome")
                            .tags(tags)
                            .tag("status", s)
                            .register(registry)));
      }
      timer.record(time);
    }

    @Override
    public void recordResolveAddressTime(
        SocketAddress remoteAddress, Duration time, String status) {}
  }
}

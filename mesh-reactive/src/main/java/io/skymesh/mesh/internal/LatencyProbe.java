package io.skymesh.mesh.internal;

import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.Instance;
import io.skymesh.mesh.ServiceView;
import io.skymesh.mesh.internal.transport.PeerConnection;
import io.skymesh.mesh.internal.transport.PeerTransport;
import io.skymesh.mesh.routing.PeerStatsRecorder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;

/**
 * Measures round trips to the processes of watched instances with {@code Ping} / {@code Pong}, and
 * feeds them to the routers' {@link PeerStatsRecorder}s for the lowest-latency policy.
 *
 * <p>Every interval, each open connection to a process that hosts an instance of a watched service
 * gets one ping (never a second while one is outstanding), and its round trip is recorded for every
 * such instance. A ping unanswered within the interval is recorded as {@link
 * PeerStatsRecorder.Peer#unanswered(long) unanswered} after the interval, so a stalled peer looks
 * slow instead of keeping its last good estimate. Only connections already in use are measured:
 * probing does not dial, so an instance never sent to keeps the policy's neutral estimate.
 * Instances of this process are not probed (the policy prefers them by their load).
 */
final class LatencyProbe {

  private static final Logger log = LoggerFactory.getLogger(LatencyProbe.class);

  private final Duration interval;
  private final PeerTransport peers;
  private final String processId;
  private final Supplier<Collection<DefaultNameRouter>> routers;
  private final Set<String> outstanding = ConcurrentHashMap.newKeySet();

  LatencyProbe(
      Duration interval,
      PeerTransport peers,
      String processId,
      Supplier<Collection<DefaultNameRouter>> routers) {
    this.interval = interval;
    this.peers = peers;
    this.processId = processId;
    this.routers = routers;
  }

  /** Starts probing every interval until the returned handle is disposed. */
  Disposable start() {
    return Flux.interval(interval, interval)
        .subscribe(tick -> probe(), error -> log.warn("Latency probe stopped", error));
  }

  /**
   * One round: a ping per open connection to a process hosting a watched instance. Looks up each
   * connection's address in the routers' address indexes, so a round costs the connections times
   * the routers plus the instances measured, not a walk over every watched instance.
   */
  void probe() {
    Collection<DefaultNameRouter> watched = routers.get();
    if (watched.isEmpty()) {
      return;
    }
    for (PeerConnection connection : peers.connections()) {
      String address = connection.remoteAddress();
      // The transport lists connections still in their handshake; a Ping before this side's Hello
      // is a protocol error to the peer. The peer's process id arrives with its Hello, which
      // answers ours.
      if (!connection.isOpen()
          || connection.remoteProcessId().isEmpty()
          || outstanding.contains(address)) {
        continue;
      }
      List<PeerStatsRecorder.Peer> targets = targetsAt(address, watched);
      if (!targets.isEmpty() && outstanding.add(address)) {
        connection
            .ping()
            .timeout(interval)
            .doFinally(signal -> outstanding.remove(address))
            .subscribe(
                roundTrip -> targets.forEach(peer -> peer.sample(roundTrip.toNanos())),
                error -> {
                  if (error instanceof TimeoutException) {
                    targets.forEach(peer -> peer.unanswered(interval.toNanos()));
                  } else {
                    log.debug("Ping to {} failed: {}", address, error.toString());
                  }
                });
      }
    }
  }

  /** The statistics of the watched instances of another process at {@code address}. */
  private List<PeerStatsRecorder.Peer> targetsAt(
      String address, Collection<DefaultNameRouter> watched) {
    List<PeerStatsRecorder.Peer> targets = new ArrayList<>();
    for (DefaultNameRouter router : watched) {
      ServiceView view = router.currentView();
      for (ServiceUrl url : router.instancesAt(address)) {
        Instance instance = view.instance(url).orElse(null);
        if (instance != null && !processId.equals(instance.processId())) {
          targets.add(router.peerStats().peer(url));
        }
      }
    }
    return targets;
  }
}

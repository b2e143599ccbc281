package io.skymesh.mesh.internal;

import io.skymesh.mesh.Instance;
import io.skymesh.mesh.internal.transport.PeerConnection;
import io.skymesh.mesh.internal.transport.PeerTransport;
import io.skymesh.mesh.routing.PeerStatsRecorder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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

  /** One round: a ping per connection to a process hosting a watched instance. */
  void probe() {
    Map<String, List<PeerStatsRecorder.Peer>> byAddress = new HashMap<>();
    for (DefaultNameRouter router : routers.get()) {
      PeerStatsRecorder stats = router.peerStats();
      for (Instance instance : router.currentView().instances()) {
        if (!processId.equals(instance.processId())) {
          byAddress
              .computeIfAbsent(instance.address(), address -> new ArrayList<>())
              .add(stats.peer(instance.url()));
        }
      }
    }
    if (byAddress.isEmpty()) {
      return;
    }
    for (PeerConnection connection : peers.connections()) {
      String address = connection.remoteAddress();
      List<PeerStatsRecorder.Peer> targets = byAddress.get(address);
      if (targets != null && connection.isOpen() && outstanding.add(address)) {
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
}

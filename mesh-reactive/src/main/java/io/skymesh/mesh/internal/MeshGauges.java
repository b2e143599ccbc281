package io.skymesh.mesh.internal;

import io.micrometer.core.instrument.Tags;
import io.skymesh.mesh.internal.metrics.MeshMetrics;
import io.skymesh.mesh.internal.metrics.RequestLoad;
import io.skymesh.mesh.internal.naming.NameServerClient;
import io.skymesh.mesh.internal.peer.DataPlane;
import io.skymesh.mesh.internal.rpc.Calls;
import io.skymesh.mesh.internal.rpc.PeerLimiter;
import io.skymesh.mesh.internal.rpc.RpcServer;
import io.skymesh.mesh.internal.transport.PeerTickets;
import io.skymesh.mesh.internal.transport.PeerTransport;
import io.skymesh.proto.StatusCode;
import org.jspecify.annotations.Nullable;

/**
 * The mesh's meters that read state its parts keep anyway (the data plane's drop counters, the
 * limiters, the name-server session), registered once when the mesh is built; nothing on any path a
 * message or request takes.
 */
final class MeshGauges {

  private MeshGauges() {}

  static void bind(
      MeshMetrics metrics,
      DataPlane plane,
      Calls calls,
      RpcServer server,
      NameServerClient names,
      @Nullable PeerTickets tickets) {
    if (!metrics.enabled()) {
      return;
    }
    for (StatusCode code : StatusCode.values()) {
      if (code == StatusCode.OK || code == StatusCode.UNRECOGNIZED) {
        continue;
      }
      metrics.functionCounter(
          "inbound.dropped",
          "messages and notifications from peers not handed to a handler (or whose handler"
              + " failed), by the status reported back to the sender",
          null,
          Tags.of("status", code.name()),
          plane,
          p -> p.dropped(code));
    }
    metrics.functionCounter(
        "inbound.reports.lost",
        "reports of inbound.dropped that could not be written back (their connection was closing,"
            + " or its event loop was gone)",
        null,
        Tags.empty(),
        plane,
        DataPlane::reportsLost);
    metrics.functionCounter(
        "inbound.frames.ignored",
        "frames from peers of a kind this process does not know",
        null,
        Tags.empty(),
        plane,
        DataPlane::ignoredFrames);
    metrics.functionCounter(
        "peer.tickets.refused",
        "peers refused because their ticket did not hold (at Hello, or a renewal)",
        null,
        Tags.empty(),
        plane.transport(),
        PeerTransport::ticketsRefused);
    if (tickets != null) {
      metrics.functionCounter(
          "peer.tickets.issued",
          "peer tickets this mesh got from the name server, the first one included",
          null,
          Tags.empty(),
          tickets,
          PeerTickets::ticketsIssued);
      metrics.functionCounter(
          "peer.tickets.renewals.failed",
          "renewals of this mesh's peer ticket that failed (each is tried again)",
          null,
          Tags.empty(),
          tickets,
          PeerTickets::failedRenewals);
    }
    metrics.gauge(
        "services", "services of this process", Tags.empty(), plane, p -> p.services().size());
    metrics.gauge(
        "requests.in.flight",
        "requests from this process admitted by their destination's limiter and not yet ended",
        Tags.empty(),
        calls,
        c -> sum(c, PeerLimiter::inFlight));
    metrics.gauge(
        "requests.queued",
        "requests from this process waiting for a slot in their destination's limiter",
        Tags.empty(),
        calls,
        c -> sum(c, PeerLimiter::pending));
    metrics.gauge(
        "handlers.running",
        "handlers of this process's services running now, for peers and in process",
        Tags.empty(),
        server,
        RpcServer::running);
    metrics.gauge(
        "nameserver.connected",
        "1 while a name-server session is open, else 0",
        Tags.empty(),
        names,
        n -> n.connected() ? 1 : 0);
    metrics.functionCounter(
        "nameserver.sessions",
        "name-server sessions opened, the first one included",
        null,
        Tags.empty(),
        names,
        NameServerClient::sessionsOpened);
    metrics.functionCounter(
        "nameserver.reconnects",
        "name-server sessions opened after the first (the same node or another)",
        null,
        Tags.empty(),
        names,
        n -> Math.max(0, n.sessionsOpened() - 1));
    metrics.functionCounter(
        "nameserver.watch.overflows",
        "watches paused because their subscriber fell a whole buffer behind",
        null,
        Tags.empty(),
        names,
        NameServerClient::watchOverflows);
  }

  /** The per-peer request counts the connection meters read, from the limiters. */
  static RequestLoad requestLoad(Calls calls) {
    return new RequestLoad() {
      @Override
      public int inFlight(String address) {
        PeerLimiter limiter = calls.existingLimiter(address);
        return limiter == null ? 0 : limiter.inFlight();
      }

      @Override
      public int queued(String address) {
        PeerLimiter limiter = calls.existingLimiter(address);
        return limiter == null ? 0 : limiter.pending();
      }
    };
  }

  private static double sum(Calls calls, java.util.function.ToIntFunction<PeerLimiter> value) {
    long total = 0;
    for (PeerLimiter limiter : calls.limiters()) {
      total += value.applyAsInt(limiter);
    }
    return total;
  }
}

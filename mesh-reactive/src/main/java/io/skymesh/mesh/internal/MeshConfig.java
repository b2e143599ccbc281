package io.skymesh.mesh.internal;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.observation.ObservationRegistry;
import io.netty.handler.ssl.SslContext;
import io.skymesh.mesh.internal.naming.NameServerClientConfig;
import io.skymesh.mesh.internal.rpc.RpcConfig;
import java.net.InetSocketAddress;
import java.time.Duration;
import org.jspecify.annotations.Nullable;
import reactor.netty.resources.LoopResources;

/**
 * A mesh's validated configuration, built by {@code MeshBuilder}.
 *
 * @param appId the application
 * @param host the peer listener's host
 * @param port the peer listener's port, 0 for any
 * @param advertisedHost the host peers dial, or null for {@code host}
 * @param advertisedPort the port peers dial, 0 for the bound one
 * @param peerServerTls the TLS context of the connections peers open, or null for plaintext
 * @param peerClientTls the TLS context of the connections this process opens, or null
 * @param peerTickets whether peers show and require tickets of the name server
 * @param maxFrameLength the largest frame body
 * @param pingInterval how often peers' round trips are measured, zero for never
 * @param maxPendingSends the most sends waiting per peer connection before more are refused
 * @param writeStallTimeout how long sends may wait for the socket with nothing written before their
 *     connection closes, zero for never
 * @param inboundQueuePerService the most messages of one connection waiting for one handler
 * @param inboundHold how long a full inbound queue may hold its connection
 * @param rpc the request / response settings
 * @param naming the name-server client's settings
 * @param meterRegistry where the mesh's meters go, or {@code null} for none
 * @param observationRegistry what observes calls and handlers; {@code ObservationRegistry.NOOP} for
 *     nothing
 * @param peerLoops the event loops of peer connections, or {@code null} for Reactor Netty's shared
 *     ones
 */
public record MeshConfig(
    String appId,
    String host,
    int port,
    @Nullable String advertisedHost,
    int advertisedPort,
    @Nullable SslContext peerServerTls,
    @Nullable SslContext peerClientTls,
    boolean peerTickets,
    int maxFrameLength,
    Duration pingInterval,
    int maxPendingSends,
    Duration writeStallTimeout,
    int inboundQueuePerService,
    Duration inboundHold,
    RpcConfig rpc,
    NameServerClientConfig naming,
    @Nullable MeterRegistry meterRegistry,
    ObservationRegistry observationRegistry,
    @Nullable LoopResources peerLoops) {

  /** The session TTL asked of the name server. */
  public Duration sessionTtl() {
    return naming.sessionTtl();
  }

  /** How long a name-server request may wait. */
  public Duration requestTimeout() {
    return naming.requestTimeout();
  }

  /**
   * Parses {@code host:port} without resolving it.
   *
   * @param name the argument's name, for the message
   * @param hostPort the text
   * @return the unresolved address
   * @throws IllegalArgumentException naming the argument and the expectation
   */
  public static InetSocketAddress parseHostPort(String name, String hostPort) {
    if (hostPort == null) {
      throw new NullPointerException(name);
    }
    int colon = hostPort.lastIndexOf(':');
    if (colon <= 0 || colon == hostPort.length() - 1) {
      throw new IllegalArgumentException(name + ": \"" + hostPort + "\" (expected: host:port)");
    }
    int port;
    try {
      port = Integer.parseInt(hostPort.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + ": \"" + hostPort + "\" (expected: host:port)", e);
    }
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException(
          name + ": \"" + hostPort + "\" (expected: a port in 1..65535)");
    }
    return InetSocketAddress.createUnresolved(hostPort.substring(0, colon), port);
  }
}

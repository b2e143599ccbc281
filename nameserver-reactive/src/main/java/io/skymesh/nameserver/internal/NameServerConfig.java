package io.skymesh.nameserver.internal;

import io.netty.handler.ssl.SslContext;
import io.skymesh.nameserver.FsyncPolicy;
import io.skymesh.nameserver.Principal;
import io.skymesh.nameserver.spi.NameStore;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.util.List;

/**
 * A name server's configuration, already checked by {@code NameServerBuilder}.
 *
 * @param host the host to listen on
 * @param port the port to listen on, 0 for any
 * @param sessionTtl the TTL granted when the client asks for none, and the time to OpenSession
 * @param maxSessionTtl the longest TTL granted
 * @param maxFrameLength the largest frame body, in and out
 * @param watcherQueueLimit the bound of each session's outbound queue, in frames
 * @param historyLimit the number of past changes kept for resuming watches
 * @param historyBytesLimit the serialized size of the past changes kept, in bytes
 * @param initialRevision the revision before the first change, or -1 for one from the clock
 * @param maxValueSize the largest KV value accepted, in bytes
 * @param maxInstanceSize the largest encoded Instance a client may register
 * @param store a store other than the embedded one, or null for the embedded store
 * @param dataDirectory the embedded store's data directory, or null to keep everything in memory
 * @param fsync when the data directory's log is forced to the disk
 * @param fsyncInterval the longest time between forces under {@link FsyncPolicy#INTERVAL}
 * @param snapshotLogBytes the size of the log past which the store writes a snapshot
 * @param principals the clients known by token; empty for open mode
 * @param maxConnections the most connections the server holds; more are refused
 * @param maxConnectionsPerAddress the most connections from one source IP address
 * @param maxSessionsPerPrincipal the most sessions one principal may have open
 * @param maxWatchesPerSession the most watches (instance and KV) one session may hold
 * @param maxRequestsPerSecond the most requests a second one session may send, 0 for no limit
 * @param tls the server's TLS context, or null for plaintext
 * @param ticketKey the Ed25519 key pair peer tickets are signed with, or null to make one at start
 * @param ticketLifetime how long a peer ticket is valid
 */
public record NameServerConfig(
    String host,
    int port,
    Duration sessionTtl,
    Duration maxSessionTtl,
    int maxFrameLength,
    int watcherQueueLimit,
    int historyLimit,
    long historyBytesLimit,
    long initialRevision,
    int maxValueSize,
    int maxInstanceSize,
    NameStore store,
    Path dataDirectory,
    FsyncPolicy fsync,
    Duration fsyncInterval,
    long snapshotLogBytes,
    List<Principal> principals,
    int maxConnections,
    int maxConnectionsPerAddress,
    int maxSessionsPerPrincipal,
    int maxWatchesPerSession,
    int maxRequestsPerSecond,
    SslContext tls,
    KeyPair ticketKey,
    Duration ticketLifetime) {

  /** The shortest TTL granted to a client that asks for one. */
  public static final Duration MIN_REQUESTED_TTL = Duration.ofMillis(100);

  /** The most attributes one instance may carry. */
  public static final int MAX_ATTRIBUTES = 256;

  /** The longest KV key, in UTF-16 characters (Java string length). */
  public static final int MAX_KEY_LENGTH = 1024;

  /**
   * The revision before the first change of a server starting now.
   *
   * @return the configured initial revision, or one from the clock
   */
  public long startRevision() {
    return initialRevision >= 0 ? initialRevision : System.currentTimeMillis() * 1000;
  }

  /**
   * The TTL granted to a client that asks for {@code requestedMillis}.
   *
   * @param requestedMillis the client's OpenSession.ttl_millis, as an unsigned int
   * @return the granted TTL in milliseconds
   */
  public long grantTtlMillis(int requestedMillis) {
    long requested = Integer.toUnsignedLong(requestedMillis);
    if (requested == 0) {
      return sessionTtl.toMillis();
    }
    return Math.max(MIN_REQUESTED_TTL.toMillis(), Math.min(requested, maxSessionTtl.toMillis()));
  }
}

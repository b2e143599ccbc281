package io.skymesh.nameserver;

import io.netty.handler.ssl.SslContext;
import io.skymesh.codec.Frames;
import io.skymesh.codec.Tickets;
import io.skymesh.nameserver.internal.DefaultNameServer;
import io.skymesh.nameserver.internal.NameServerConfig;
import io.skymesh.nameserver.spi.NameStore;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import reactor.core.publisher.Mono;

/**
 * Configures and starts a {@link NameServer}. Every setter checks its argument at once and throws
 * {@link IllegalArgumentException} naming it and the expected range.
 *
 * <pre>{@code
 * NameServer server =
 *     NameServer.builder()
 *         .host("0.0.0.0")
 *         .port(9099)
 *         .sessionTtl(Duration.ofSeconds(10))
 *         .start()
 *         .block(Duration.ofSeconds(5));
 * }</pre>
 *
 * <p>A builder is not thread-safe; {@link #start()} takes a copy of the configuration, so later
 * changes to the builder do not affect a server already being started.
 */
public final class NameServerBuilder {

  /** The default session TTL: 10 seconds. */
  public static final Duration DEFAULT_SESSION_TTL = Duration.ofSeconds(10);

  /** The default longest TTL a client may ask for: 60 seconds. */
  public static final Duration DEFAULT_MAX_SESSION_TTL = Duration.ofSeconds(60);

  /** The default bound of each session's outbound queue, in frames: 1024. */
  public static final int DEFAULT_WATCHER_QUEUE_LIMIT = 1024;

  /** The default number of past events kept for watches that resume: 10,000. */
  public static final int DEFAULT_HISTORY_LIMIT = 10_000;

  /** The default bound of the history's size: 64 MiB of serialized events. */
  public static final long DEFAULT_HISTORY_BYTES_LIMIT = 64L << 20;

  /** The smallest {@link #historyBytesLimit(long)}. */
  public static final long MIN_HISTORY_BYTES_LIMIT = 1024;

  /** The default {@link #fsyncInterval(Duration)}: 1 second. */
  public static final Duration DEFAULT_FSYNC_INTERVAL = Duration.ofSeconds(1);

  /** The default size of the data directory's log past which a snapshot replaces it: 64 MiB. */
  public static final long DEFAULT_SNAPSHOT_LOG_BYTES = 64L << 20;

  /** The smallest {@link #snapshotLogBytes(long)}: 4 KiB. */
  public static final long MIN_SNAPSHOT_LOG_BYTES = 4096;

  /** The largest {@link #watcherQueueLimit(int)}. */
  public static final int MAX_WATCHER_QUEUE_LIMIT = 1 << 20;

  /** The largest {@link #historyLimit(int)}. */
  public static final int MAX_HISTORY_LIMIT = 10_000_000;

  /** The default largest KV value: 1 MiB. */
  public static final int DEFAULT_MAX_VALUE_SIZE = 1 << 20;

  /** The default {@link #maxConnectionsPerAddress(int)}. */
  public static final int DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 4096;

  /** The default {@link #maxConnections(int)}. */
  public static final int DEFAULT_MAX_CONNECTIONS = 65_536;

  /** The default {@link #maxSessionsPerPrincipal(int)}. */
  public static final int DEFAULT_MAX_SESSIONS_PER_PRINCIPAL = 10_000;

  /** The default {@link #maxWatchesPerSession(int)}. */
  public static final int DEFAULT_MAX_WATCHES_PER_SESSION = 10_000;

  /** The default {@link #maxInstanceSize(int)}: 64 KiB. */
  public static final int DEFAULT_MAX_INSTANCE_SIZE = 64 * 1024;

  /**
   * Room a KV value's frame needs beyond the value itself (the key of at most {@code 1024}
   * characters, up to 3 bytes each in UTF-8, revisions, field tags), so that a value of {@link
   * #maxValueSize(int)} bytes always fits in a frame of {@link #maxFrameLength(int)}.
   */
  public static final int KV_FRAME_OVERHEAD = 4096;

  /** The default {@link #ticketLifetime(Duration)}: 10 minutes. */
  public static final Duration DEFAULT_TICKET_LIFETIME = Duration.ofMinutes(10);

  /** The shortest {@link #ticketLifetime(Duration)}: 1 second. */
  public static final Duration MIN_TICKET_LIFETIME = Duration.ofSeconds(1);

  /** The TTL is sent in a uint32 number of milliseconds. */
  private static final long MAX_TTL_MILLIS = 0xFFFF_FFFFL;

  private String host = "127.0.0.1";
  private int port;
  private Duration sessionTtl = DEFAULT_SESSION_TTL;
  private Duration maxSessionTtl = DEFAULT_MAX_SESSION_TTL;
  private int maxFrameLength = Frames.DEFAULT_MAX_FRAME_LENGTH;
  private int watcherQueueLimit = DEFAULT_WATCHER_QUEUE_LIMIT;
  private int historyLimit = DEFAULT_HISTORY_LIMIT;
  private long historyBytesLimit = DEFAULT_HISTORY_BYTES_LIMIT;
  private long initialRevision = -1;
  private int maxValueSize = DEFAULT_MAX_VALUE_SIZE;
  private boolean maxValueSizeSet;
  private int maxInstanceSize = DEFAULT_MAX_INSTANCE_SIZE;
  private int maxConnections = DEFAULT_MAX_CONNECTIONS;
  private int maxConnectionsPerAddress = DEFAULT_MAX_CONNECTIONS_PER_ADDRESS;
  private int maxSessionsPerPrincipal = DEFAULT_MAX_SESSIONS_PER_PRINCIPAL;
  private int maxWatchesPerSession = DEFAULT_MAX_WATCHES_PER_SESSION;
  private int maxRequestsPerSecond;
  private SslContext tls;
  private KeyPair ticketKey;
  private Duration ticketLifetime = DEFAULT_TICKET_LIFETIME;
  private NameStore store;
  private Path dataDirectory;
  private FsyncPolicy fsync = FsyncPolicy.ALWAYS;
  private Duration fsyncInterval = DEFAULT_FSYNC_INTERVAL;
  private long snapshotLogBytes = DEFAULT_SNAPSHOT_LOG_BYTES;
  private final List<Principal> principals = new ArrayList<>();

  NameServerBuilder() {}

  /**
   * The host name or address to listen on. Default {@code 127.0.0.1}; use {@code 0.0.0.0} to listen
   * on every interface.
   *
   * @param host the host
   * @return this builder
   * @throws IllegalArgumentException if {@code host} is empty
   */
  public NameServerBuilder host(String host) {
    Objects.requireNonNull(host, "host");
    if (host.isBlank()) {
      throw new IllegalArgumentException("host: \"" + host + "\" (expected: a host name or IP)");
    }
    this.host = host;
    return this;
  }

  /**
   * The TCP port to listen on. Default 0: any free port, see {@link NameServer#port()}.
   *
   * @param port the port
   * @return this builder
   * @throws IllegalArgumentException if {@code port} is not in {@code 0..65535}
   */
  public NameServerBuilder port(int port) {
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException(String.format("port: %s (expected: 0..65535)", port));
    }
    this.port = port;
    return this;
  }

  /**
   * The session TTL granted to a client that asks for none (OpenSession.ttl_millis 0), and the time
   * a new connection has to send its OpenSession. Default 10 seconds. A session that sends no frame
   * for this long is expired: its instances are removed and its connection closed. A client that
   * asks for its own TTL gets it clamped to 100 ms .. {@link #maxSessionTtl(Duration)}.
   *
   * @param sessionTtl the TTL
   * @return this builder
   * @throws IllegalArgumentException if it is not in {@code 1 ms..2^32-1 ms}; {@link #start()} also
   *     refuses a TTL longer than the {@link #maxSessionTtl(Duration)}
   */
  public NameServerBuilder sessionTtl(Duration sessionTtl) {
    Objects.requireNonNull(sessionTtl, "sessionTtl");
    if (sessionTtl.toMillis() < 1 || sessionTtl.toMillis() > MAX_TTL_MILLIS) {
      throw new IllegalArgumentException(
          String.format("sessionTtl: %s (expected: 1ms..%sms)", sessionTtl, MAX_TTL_MILLIS));
    }
    this.sessionTtl = sessionTtl;
    return this;
  }

  /**
   * The longest TTL a client may ask for; a longer request is granted this. Default 60 seconds.
   * Bounds how long a half-open connection keeps its instances registered.
   *
   * @param maxSessionTtl the longest TTL
   * @return this builder
   * @throws IllegalArgumentException if it is not in {@code 100 ms..2^32-1 ms}; {@link #start()}
   *     also refuses one shorter than the {@link #sessionTtl(Duration)}
   */
  public NameServerBuilder maxSessionTtl(Duration maxSessionTtl) {
    Objects.requireNonNull(maxSessionTtl, "maxSessionTtl");
    if (maxSessionTtl.toMillis() < 100 || maxSessionTtl.toMillis() > MAX_TTL_MILLIS) {
      throw new IllegalArgumentException(
          String.format(
              "maxSessionTtl: %s (expected: 100ms..%sms)", maxSessionTtl, MAX_TTL_MILLIS));
    }
    this.maxSessionTtl = maxSessionTtl;
    return this;
  }

  /**
   * The largest frame body accepted from a client and sent to one, in bytes. Default {@link
   * Frames#DEFAULT_MAX_FRAME_LENGTH} (16 MiB). A client frame over it closes that connection after
   * an {@code Error(RESOURCE_EXHAUSTED)} with request id 0.
   *
   * @param maxFrameLength the limit
   * @return this builder
   * @throws IllegalArgumentException if it is not in {@code 1..Frames.MAX_FRAME_LENGTH_LIMIT}
   */
  public NameServerBuilder maxFrameLength(int maxFrameLength) {
    this.maxFrameLength = Frames.checkMaxFrameLength(maxFrameLength);
    return this;
  }

  /**
   * The bound of each session's outbound queue, in frames (answers and watch events together).
   * Default 1024. When a watch's event finds its session's queue full, the watch's queued events
   * are dropped and, once the client has read enough for a quarter of the queue to be free, it gets
   * a {@code Snapshot} with {@code resync = true} at the then-current revision, then live events
   * again. Answers are never dropped: while the queue is full the server stops reading that
   * session's requests.
   *
   * @param watcherQueueLimit the bound
   * @return this builder
   * @throws IllegalArgumentException if it is not in {@code 4..MAX_WATCHER_QUEUE_LIMIT}
   */
  public NameServerBuilder watcherQueueLimit(int watcherQueueLimit) {
    if (watcherQueueLimit < 4 || watcherQueueLimit > MAX_WATCHER_QUEUE_LIMIT) {
      throw new IllegalArgumentException(
          String.format(
              "watcherQueueLimit: %s (expected: 4..%s)",
              watcherQueueLimit, MAX_WATCHER_QUEUE_LIMIT));
    }
    this.watcherQueueLimit = watcherQueueLimit;
    return this;
  }

  /**
   * How many past changes are kept so that a watch can resume from a revision. Default 10,000. A
   * watch resuming from a revision older than that gets a {@code Snapshot} with {@code resync =
   * true} first. The history is allocated up front (one reference per entry).
   *
   * @param historyLimit the number of changes kept
   * @return this builder
   * @throws IllegalArgumentException if it is not in {@code 1..MAX_HISTORY_LIMIT}
   */
  public NameServerBuilder historyLimit(int historyLimit) {
    if (historyLimit < 1 || historyLimit > MAX_HISTORY_LIMIT) {
      throw new IllegalArgumentException(
          String.format("historyLimit: %s (expected: 1..%s)", historyLimit, MAX_HISTORY_LIMIT));
    }
    this.historyLimit = historyLimit;
    return this;
  }

  /**
   * How many bytes of past changes are kept so that a watch can resume from a revision, counted as
   * the serialized size of their events. Default {@link #DEFAULT_HISTORY_BYTES_LIMIT} (64 MiB).
   * Together with {@link #historyLimit(int)} it bounds the history: the oldest changes are dropped
   * once either is exceeded (the newest change is always kept), so repeated large KV writes cannot
   * fill the heap. A watch resuming from a dropped revision gets a {@code Snapshot} with {@code
   * resync = true} first.
   *
   * @param historyBytesLimit the bound in bytes
   * @return this builder
   * @throws IllegalArgumentException if it is under {@link #MIN_HISTORY_BYTES_LIMIT}
   */
  public NameServerBuilder historyBytesLimit(long historyBytesLimit) {
    if (historyBytesLimit < MIN_HISTORY_BYTES_LIMIT) {
      throw new IllegalArgumentException(
          String.format(
              "historyBytesLimit: %s (expected: >= %s)",
              historyBytesLimit, MIN_HISTORY_BYTES_LIMIT));
    }
    this.historyBytesLimit = historyBytesLimit;
    return this;
  }

  /**
   * The revision the server starts at, before its first change. By default it is derived from the
   * clock when the server starts (milliseconds since the epoch times 1000), so that a restarted
   * server never reuses a revision its predecessor handed out, as long as that one averaged under a
   * million changes a second: a client that resumes a watch with a revision of the old server gets
   * a resync snapshot instead of a wrong replay. Set 0 for revisions counting from 1, for example
   * in tests.
   *
   * @param initialRevision the revision before the first change
   * @return this builder
   * @throws IllegalArgumentException if it is negative
   */
  public NameServerBuilder initialRevision(long initialRevision) {
    if (initialRevision < 0) {
      throw new IllegalArgumentException(
          String.format("initialRevision: %s (expected: >= 0)", initialRevision));
    }
    this.initialRevision = initialRevision;
    return this;
  }

  /**
   * The largest instance a client may register, in bytes of its encoded {@code Instance} (url,
   * address, process id and attributes together). Default {@link #DEFAULT_MAX_INSTANCE_SIZE} (64
   * KiB). A {@code Register} over it, or a {@code SetAttributes} that would take the instance over
   * it, is refused with {@code INVALID_ARGUMENT} naming the size and this limit, and nothing
   * changes. It bounds every instance event, so one client's attributes can never make an event too
   * large for its watchers' frames.
   *
   * @param maxInstanceSize the limit in bytes
   * @return this builder
   * @throws IllegalArgumentException if it is not in {@code 256..1 MiB}
   */
  public NameServerBuilder maxInstanceSize(int maxInstanceSize) {
    if (maxInstanceSize < 256 || maxInstanceSize > (1 << 20)) {
      throw new IllegalArgumentException(
          String.format("maxInstanceSize: %s (expected: 256..%s)", maxInstanceSize, 1 << 20));
    }
    this.maxInstanceSize = maxInstanceSize;
    return this;
  }

  /**
   * Serves TLS only, with {@code context}: a plaintext client's first bytes fail the handshake and
   * its connection is closed. Mutual TLS is the context's choice ({@code
   * SslContextBuilder.clientAuth(ClientAuth.REQUIRE)} with the clients' authority as its trust
   * manager). Default: plaintext.
   *
   * <pre>{@code
   * NameServer.builder()
   *     .tls(SslContextBuilder.forServer(new File("server.pem"), new File("server.key")).build())
   * }</pre>
   *
   * @param context a server context ({@code SslContextBuilder.forServer})
   * @return this builder
   * @throws IllegalArgumentException if it is a client context
   */
  public NameServerBuilder tls(SslContext context) {
    Objects.requireNonNull(context, "context");
    if (!context.isServer()) {
      throw new IllegalArgumentException(
          "tls: a client context (expected: one from SslContextBuilder.forServer)");
    }
    this.tls = context;
    return this;
  }

  /**
   * The Ed25519 key pair that signs peer tickets ({@code IssueTicket}): meshes verify each other's
   * tickets with its public half, which the server hands out with every ticket. Every node of one
   * name service must be given the same key, or a mesh on one node refuses the peers of another.
   * Default: a key made at start, right for a single server, and gone with it (meshes started
   * before a restart then refuse tickets signed after it, until they renew theirs).
   *
   * @param key an Ed25519 key pair ({@code KeyPairGenerator.getInstance("Ed25519")})
   * @return this builder
   * @throws IllegalArgumentException if it is not an Ed25519 key pair
   */
  public NameServerBuilder ticketKey(KeyPair key) {
    Objects.requireNonNull(key, "key");
    if (!Tickets.ALGORITHM.equals(key.getPublic().getAlgorithm())
        && !"EdDSA".equals(key.getPublic().getAlgorithm())) {
      throw new IllegalArgumentException(
          "ticketKey: a " + key.getPublic().getAlgorithm() + " key pair (expected: Ed25519)");
    }
    this.ticketKey = key;
    return this;
  }

  /**
   * How long a peer ticket is valid; a mesh renews its ticket after two thirds of it. Default
   * {@link #DEFAULT_TICKET_LIFETIME}. Peers compare the expiry with their own clocks, so clocks
   * must agree to well within a third of it.
   *
   * @param lifetime at least {@link #MIN_TICKET_LIFETIME}
   * @return this builder
   */
  public NameServerBuilder ticketLifetime(Duration lifetime) {
    Objects.requireNonNull(lifetime, "lifetime");
    if (lifetime.compareTo(MIN_TICKET_LIFETIME) < 0) {
      throw new IllegalArgumentException(
          "ticketLifetime: " + lifetime + " (expected: at least " + MIN_TICKET_LIFETIME + ")");
    }
    this.ticketLifetime = lifetime;
    return this;
  }

  /**
   * The most connections the server holds at once, sessions and not-yet-opened ones. One more is
   * told {@code Error(RESOURCE_EXHAUSTED)} and closed. Default {@link #DEFAULT_MAX_CONNECTIONS}.
   *
   * @param maxConnections the limit, at least 1
   * @return this builder
   */
  public NameServerBuilder maxConnections(int maxConnections) {
    this.maxConnections = atLeastOne("maxConnections", maxConnections);
    return this;
  }

  /**
   * The most connections the server holds at once from one source IP address, so that one host
   * cannot take every connection of {@link #maxConnections(int)}. One more is told {@code
   * Error(RESOURCE_EXHAUSTED)} and closed. Raise it for many clients behind one NAT. Default {@link
   * #DEFAULT_MAX_CONNECTIONS_PER_ADDRESS}.
   *
   * @param maxConnections the limit, at least 1
   * @return this builder
   */
  public NameServerBuilder maxConnectionsPerAddress(int maxConnections) {
    this.maxConnectionsPerAddress = atLeastOne("maxConnectionsPerAddress", maxConnections);
    return this;
  }

  /**
   * The most sessions one principal (token) may have open at once, with principals configured. One
   * more {@code OpenSession} gets {@code RESOURCE_EXHAUSTED} and a close. Default {@link
   * #DEFAULT_MAX_SESSIONS_PER_PRINCIPAL}.
   *
   * @param maxSessions the limit, at least 1
   * @return this builder
   */
  public NameServerBuilder maxSessionsPerPrincipal(int maxSessions) {
    this.maxSessionsPerPrincipal = atLeastOne("maxSessionsPerPrincipal", maxSessions);
    return this;
  }

  /**
   * The most watches, instance and KV, one session may hold. One more gets {@code
   * RESOURCE_EXHAUSTED}; the session and its other watches go on. Default {@link
   * #DEFAULT_MAX_WATCHES_PER_SESSION}.
   *
   * @param maxWatches the limit, at least 1
   * @return this builder
   */
  public NameServerBuilder maxWatchesPerSession(int maxWatches) {
    this.maxWatchesPerSession = atLeastOne("maxWatchesPerSession", maxWatches);
    return this;
  }

  /**
   * The most requests a second one connection may send, with a second's worth allowed at once. A
   * request over it is answered {@code RESOURCE_EXHAUSTED} and changes nothing; it still shows the
   * client alive, so a flooding session is slowed, not expired. Default 0: no limit.
   *
   * @param perSecond the limit, or 0 for none
   * @return this builder
   */
  public NameServerBuilder maxRequestsPerSecond(int perSecond) {
    if (perSecond < 0) {
      throw new IllegalArgumentException(
          "maxRequestsPerSecond: " + perSecond + " (expected: >= 0, 0 for no limit)");
    }
    this.maxRequestsPerSecond = perSecond;
    return this;
  }

  private static int atLeastOne(String name, int value) {
    if (value < 1) {
      throw new IllegalArgumentException(name + ": " + value + " (expected: >= 1)");
    }
    return value;
  }

  /**
   * The largest KV value a client may put, in bytes. Default {@link #DEFAULT_MAX_VALUE_SIZE} (1
   * MiB). A larger {@code KvPut} is refused with {@code INVALID_ARGUMENT} naming the value's size
   * and this limit; nothing is stored. Must leave room in a frame: {@link #start()} refuses a limit
   * over {@link #maxFrameLength(int)} minus {@link #KV_FRAME_OVERHEAD}. When not set, the default
   * is lowered to fit a smaller {@link #maxFrameLength(int)}.
   *
   * @param maxValueSize the limit in bytes
   * @return this builder
   * @throws IllegalArgumentException if it is not in {@code 1..Frames.MAX_FRAME_LENGTH_LIMIT}
   */
  public NameServerBuilder maxValueSize(int maxValueSize) {
    if (maxValueSize < 1 || maxValueSize > Frames.MAX_FRAME_LENGTH_LIMIT) {
      throw new IllegalArgumentException(
          String.format(
              "maxValueSize: %s (expected: 1..%s)", maxValueSize, Frames.MAX_FRAME_LENGTH_LIMIT));
    }
    this.maxValueSize = maxValueSize;
    this.maxValueSizeSet = true;
    return this;
  }

  /**
   * Adds a principal: once any is added, every {@code OpenSession} must carry a known token ({@code
   * UNAUTHENTICATED} otherwise), and each request is checked against its principal's roles and apps
   * ({@code PERMISSION_DENIED}, naming the missing right, with nothing changed). Without any, the
   * server runs in open mode and says so when it starts.
   *
   * @param principal the principal; its token must differ from every other's
   * @return this builder
   * @throws IllegalArgumentException if another principal has the same token or name
   */
  public NameServerBuilder principal(Principal principal) {
    Objects.requireNonNull(principal, "principal");
    for (Principal known : principals) {
      if (known.name().equals(principal.name())) {
        throw new IllegalArgumentException("principal " + principal.name() + ": named twice");
      }
      if (known.token().equals(principal.token())) {
        throw new IllegalArgumentException(
            "principals " + known.name() + " and " + principal.name() + " have the same token");
      }
    }
    principals.add(principal);
    return this;
  }

  /**
   * Keeps the server's state in {@code store} instead of the embedded store, for example an etcd
   * store from {@link io.skymesh.nameserver.spi.NameStoreProvider#find}. The server closes the
   * store when it closes, or when it fails to start. Default: none, the embedded store.
   *
   * <p>The server then keeps no state of its own: it drives the whole protocol against the store
   * asynchronously, and with a store that can resume sessions a client may resume its session on
   * any server over the same store. The embedded store's settings (data directory, history) do not
   * apply.
   *
   * @param store the store
   * @return this builder
   */
  public NameServerBuilder store(NameStore store) {
    this.store = Objects.requireNonNull(store, "store");
    return this;
  }

  /**
   * Makes the embedded store durable in {@code directory} (created if missing): KV entries, the
   * revision counter and election terms survive a restart, also after the process is killed. Live
   * instances, sessions and campaigns stay in memory: clients register again when they reconnect.
   * Revisions and terms handed out after a restart are greater than every one handed out before it.
   * A change's {@code Ack} is sent once its log record is written (and forced to the disk, under
   * {@link FsyncPolicy#ALWAYS}). The file format is described in the module's README. Only one
   * server may use a directory at a time. Default: none, everything in memory. With a data
   * directory, {@link #initialRevision(long)} applies only to a new, empty directory (0 if not
   * set), never the clock.
   *
   * @param directory the data directory
   * @return this builder
   */
  public NameServerBuilder dataDirectory(Path directory) {
    this.dataDirectory = Objects.requireNonNull(directory, "directory");
    return this;
  }

  /**
   * When the data directory's log is forced to the disk. Default {@link FsyncPolicy#ALWAYS}: every
   * acknowledged change survives a power loss. Every policy survives the process being killed.
   *
   * @param fsync the policy
   * @return this builder
   */
  public NameServerBuilder fsync(FsyncPolicy fsync) {
    this.fsync = Objects.requireNonNull(fsync, "fsync");
    return this;
  }

  /**
   * The longest time between two forces of the log under {@link FsyncPolicy#INTERVAL}. Default 1
   * second.
   *
   * @param fsyncInterval the interval
   * @return this builder
   * @throws IllegalArgumentException if it is not in {@code 1 ms..1 h}
   */
  public NameServerBuilder fsyncInterval(Duration fsyncInterval) {
    Objects.requireNonNull(fsyncInterval, "fsyncInterval");
    if (fsyncInterval.toMillis() < 1 || fsyncInterval.compareTo(Duration.ofHours(1)) > 0) {
      throw new IllegalArgumentException(
          String.format("fsyncInterval: %s (expected: 1ms..1h)", fsyncInterval));
    }
    this.fsyncInterval = fsyncInterval;
    return this;
  }

  /**
   * How large the data directory's log may grow before the server writes a snapshot of the durable
   * state and starts an empty log. Default {@link #DEFAULT_SNAPSHOT_LOG_BYTES} (64 MiB). Smaller
   * means faster start-ups and more snapshot writes (each writes every KV entry).
   *
   * @param snapshotLogBytes the size in bytes
   * @return this builder
   * @throws IllegalArgumentException if it is under {@link #MIN_SNAPSHOT_LOG_BYTES}
   */
  public NameServerBuilder snapshotLogBytes(long snapshotLogBytes) {
    if (snapshotLogBytes < MIN_SNAPSHOT_LOG_BYTES) {
      throw new IllegalArgumentException(
          String.format(
              "snapshotLogBytes: %s (expected: >= %s)", snapshotLogBytes, MIN_SNAPSHOT_LOG_BYTES));
    }
    this.snapshotLogBytes = snapshotLogBytes;
    return this;
  }

  /**
   * Starts a name server with this configuration when subscribed. Each subscription starts a new
   * server. Fails with the bind error if the address cannot be bound (for example the port is
   * taken).
   *
   * @return a {@code Mono} of the started server, bound and accepting connections
   * @throws IllegalArgumentException if the session TTL is longer than the longest session TTL, or
   *     the largest KV value does not fit in a frame
   */
  public Mono<NameServer> start() {
    int valueLimit = maxValueSize;
    if (!maxValueSizeSet) {
      valueLimit = Math.max(1, Math.min(maxValueSize, maxFrameLength - KV_FRAME_OVERHEAD));
    } else if ((long) maxValueSize + KV_FRAME_OVERHEAD > maxFrameLength) {
      throw new IllegalArgumentException(
          String.format(
              "maxValueSize: %s (expected: at most maxFrameLength %s - %s)",
              maxValueSize, maxFrameLength, KV_FRAME_OVERHEAD));
    }
    if (sessionTtl.compareTo(maxSessionTtl) > 0) {
      throw new IllegalArgumentException(
          String.format(
              "sessionTtl: %s (expected: at most maxSessionTtl %s)", sessionTtl, maxSessionTtl));
    }
    NameServerConfig config =
        new NameServerConfig(
            host,
            port,
            sessionTtl,
            maxSessionTtl,
            maxFrameLength,
            watcherQueueLimit,
            historyLimit,
            historyBytesLimit,
            initialRevision,
            valueLimit,
            maxInstanceSize,
            store,
            dataDirectory,
            fsync,
            fsyncInterval,
            snapshotLogBytes,
            List.copyOf(principals),
            maxConnections,
            maxConnectionsPerAddress,
            maxSessionsPerPrincipal,
            maxWatchesPerSession,
            maxRequestsPerSecond,
            tls,
            ticketKey,
            ticketLifetime);
    return DefaultNameServer.start(config);
  }
}

package io.skymesh.mesh.internal.transport;

import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.handler.ssl.SslContext;
import io.skymesh.codec.Frames;
import java.time.Duration;
import java.util.Objects;
import java.util.UUID;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import reactor.netty.channel.ChannelMetricsRecorder;
import reactor.netty.resources.LoopResources;

/**
 * The immutable configuration of a {@link PeerTransport}. Build one with {@link #builder()}; every
 * setting has a default, so {@code PeerTransportConfig.builder().build()} is a working loopback
 * transport on a free port.
 *
 * <pre>{@code
 * PeerTransportConfig config =
 *     PeerTransportConfig.builder().host("10.0.0.5").appId("game").outboundQueueLimit(4096).build();
 * }</pre>
 */
public final class PeerTransportConfig {

  /** The default number of frames per connection handed to the socket but not yet written. */
  public static final int DEFAULT_OUTBOUND_QUEUE_LIMIT = 1024;

  /** The default number of sends per connection that may wait for the socket. */
  public static final int DEFAULT_MAX_PENDING_SENDS = 16 * 1024;

  /** The default time sends may wait for the socket with nothing written before a close. */
  public static final Duration DEFAULT_WRITE_STALL_TIMEOUT = Duration.ofSeconds(30);

  /** The default number of inbound frames read ahead of the dispatcher, per connection. */
  public static final int DEFAULT_INBOUND_PREFETCH = 128;

  private final String host;
  private final int port;
  private final String advertisedHost;
  private final int advertisedPort;
  private final String processId;
  private final String appId;
  private final int maxFrameLength;
  private final int outboundQueueLimit;
  private final int maxPendingSends;
  private final int inboundPrefetch;
  private final boolean pooledPayloads;
  private final int writeBufferLowWaterMark;
  private final int writeBufferHighWaterMark;
  private final Duration handshakeTimeout;
  private final Duration writeStallTimeout;
  private final Duration connectTimeout;
  private final ByteBufAllocator allocator;
  private final @Nullable LoopResources loops;
  private final @Nullable ChannelMetricsRecorder acceptedMetrics;
  private final @Nullable SslContext serverTls;
  private final @Nullable SslContext clientTls;
  private final @Nullable PeerTickets tickets;
  private final @Nullable ChannelMetricsRecorder dialedMetrics;
  private final Consumer<PeerConnection> onConnected;

  private PeerTransportConfig(Builder b) {
    this.host = b.host;
    this.port = b.port;
    this.advertisedHost = b.advertisedHost != null ? b.advertisedHost : b.host;
    this.advertisedPort = b.advertisedPort;
    this.processId = b.processId != null ? b.processId : UUID.randomUUID().toString();
    this.appId = b.appId;
    this.maxFrameLength = b.maxFrameLength;
    this.outboundQueueLimit = b.outboundQueueLimit;
    this.maxPendingSends = b.maxPendingSends;
    this.inboundPrefetch = b.inboundPrefetch;
    this.pooledPayloads = b.pooledPayloads;
    this.writeBufferLowWaterMark = b.writeBufferLowWaterMark;
    this.writeBufferHighWaterMark = b.writeBufferHighWaterMark;
    this.handshakeTimeout = b.handshakeTimeout;
    this.writeStallTimeout = b.writeStallTimeout;
    this.connectTimeout = b.connectTimeout;
    this.allocator = b.allocator;
    this.loops = b.loops;
    this.acceptedMetrics = b.acceptedMetrics;
    this.serverTls = b.serverTls;
    this.clientTls = b.clientTls;
    this.tickets = b.tickets;
    this.dialedMetrics = b.dialedMetrics;
    this.onConnected = b.onConnected;
  }

  /** A builder with every setting at its default. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder holding this configuration's settings, to derive a changed copy. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.host = host;
    b.port = port;
    b.advertisedHost = advertisedHost;
    b.advertisedPort = advertisedPort;
    b.processId = processId;
    b.appId = appId;
    b.maxFrameLength = maxFrameLength;
    b.outboundQueueLimit = outboundQueueLimit;
    b.maxPendingSends = maxPendingSends;
    b.inboundPrefetch = inboundPrefetch;
    b.pooledPayloads = pooledPayloads;
    b.writeBufferLowWaterMark = writeBufferLowWaterMark;
    b.writeBufferHighWaterMark = writeBufferHighWaterMark;
    b.handshakeTimeout = handshakeTimeout;
    b.writeStallTimeout = writeStallTimeout;
    b.connectTimeout = connectTimeout;
    b.allocator = allocator;
    b.loops = loops;
    b.acceptedMetrics = acceptedMetrics;
    b.serverTls = serverTls;
    b.clientTls = clientTls;
    b.tickets = tickets;
    b.dialedMetrics = dialedMetrics;
    b.onConnected = onConnected;
    return b;
  }

  /** The address the listener binds to; default {@code 127.0.0.1}. */
  public String host() {
    return host;
  }

  /** The port the listener binds to; default 0, a free port chosen at bind time. */
  public int port() {
    return port;
  }

  /** The host peers are told to dial, in {@code Hello} and {@code listenAddress()}. */
  public String advertisedHost() {
    return advertisedHost;
  }

  /** The port peers are told to dial; 0, the default, for the bound port. */
  public int advertisedPort() {
    return advertisedPort;
  }

  /** The unique id of this transport's process; default a random UUID. */
  public String processId() {
    return processId;
  }

  /** The appId announced in {@code Hello}; default empty. */
  public String appId() {
    return appId;
  }

  /** The largest frame body sent or accepted, in bytes; default 16 MiB. */
  public int maxFrameLength() {
    return maxFrameLength;
  }

  /**
   * The most frames per connection encoded and handed to the socket but not yet written; sends
   * beyond it wait, unencoded, until the socket drains. Default {@value
   * #DEFAULT_OUTBOUND_QUEUE_LIMIT}.
   */
  public int outboundQueueLimit() {
    return outboundQueueLimit;
  }

  /**
   * The most {@code Data} and {@code Request} sends per connection that may wait, queued or in the
   * socket's share, before a further one fails at once with {@code OverloadedException}. At twice
   * as many sends waiting, of any kind, the connection stops reading until fewer than this many
   * wait. Default {@value #DEFAULT_MAX_PENDING_SENDS}.
   */
  public int maxPendingSends() {
    return maxPendingSends;
  }

  /** How many inbound frames per connection are read ahead of the dispatcher. */
  public int inboundPrefetch() {
    return inboundPrefetch;
  }

  /**
   * Whether the payloads of inbound requests, responses and messages (of at least a few hundred
   * bytes) are held in pooled arrays, released by their receiver, rather than in new arrays.
   */
  public boolean pooledPayloads() {
    return pooledPayloads;
  }

  /** Netty's low write-buffer water mark, in bytes: the socket is writable again below it. */
  public int writeBufferLowWaterMark() {
    return writeBufferLowWaterMark;
  }

  /** Netty's high write-buffer water mark, in bytes: the socket stops taking frames above it. */
  public int writeBufferHighWaterMark() {
    return writeBufferHighWaterMark;
  }

  /** How long a new connection may take to exchange {@code Hello}s; default 10 s. */
  public Duration handshakeTimeout() {
    return handshakeTimeout;
  }

  /**
   * How long sends may wait for the socket with not one byte of them written before the connection
   * closes, failing them; default 30 s, {@link Duration#ZERO} for never.
   */
  public Duration writeStallTimeout() {
    return writeStallTimeout;
  }

  /**
   * {@link #writeStallTimeout()} in nanoseconds, saturated: one longer than nanoseconds can count
   * is as good as never.
   */
  public long writeStallNanos() {
    try {
      return writeStallTimeout.toNanos();
    } catch (ArithmeticException e) {
      return Long.MAX_VALUE;
    }
  }

  /** How long a TCP connect may take; default 5 s. */
  public Duration connectTimeout() {
    return connectTimeout;
  }

  /**
   * The allocator of every buffer on peer connections, read and write; default Netty's {@link
   * PooledByteBufAllocator#DEFAULT}.
   */
  public ByteBufAllocator allocator() {
    return allocator;
  }

  /**
   * The event loops of the listener's connections and of dialed ones, or {@code null} for Reactor
   * Netty's shared {@code TcpResources}, the default.
   */
  public @Nullable LoopResources loops() {
    return loops;
  }

  /**
   * Reactor Netty's channel metrics of the listener's connections (bytes, errors), or {@code null}
   * for none, the default: then Reactor Netty adds no metrics handler to the pipeline.
   */
  public @Nullable ChannelMetricsRecorder acceptedMetrics() {
    return acceptedMetrics;
  }

  /** The listener's TLS context, or {@code null} for plaintext, the default. */
  public @Nullable SslContext serverTls() {
    return serverTls;
  }

  /** The TLS context of dialed connections, or {@code null} for plaintext, the default. */
  public @Nullable SslContext clientTls() {
    return clientTls;
  }

  /**
   * This mesh's peer tickets, presented in every {@code Hello} and required of every peer; {@code
   * null} (the default) for neither.
   */
  public @Nullable PeerTickets tickets() {
    return tickets;
  }

  /** Reactor Netty's channel metrics of dialed connections, or {@code null} for none. */
  public @Nullable ChannelMetricsRecorder dialedMetrics() {
    return dialedMetrics;
  }

  /**
   * Called with each connection, in either direction, once its handshake has completed; on the
   * connection's event loop, so it must not block. Default: nothing.
   */
  public Consumer<PeerConnection> onConnected() {
    return onConnected;
  }

  @Override
  public String toString() {
    return "PeerTransportConfig{host="
        + host
        + ", port="
        + port
        + ", advertisedHost="
        + advertisedHost
        + ", processId="
        + processId
        + ", appId="
        + appId
        + ", maxFrameLength="
        + maxFrameLength
        + ", outboundQueueLimit="
        + outboundQueueLimit
        + ", maxPendingSends="
        + maxPendingSends
        + ", inboundPrefetch="
        + inboundPrefetch
        + ", pooledPayloads="
        + pooledPayloads
        + ", writeBufferWaterMark="
        + writeBufferLowWaterMark
        + ".."
        + writeBufferHighWaterMark
        + ", handshakeTimeout="
        + handshakeTimeout
        + ", writeStallTimeout="
        + writeStallTimeout
        + ", connectTimeout="
        + connectTimeout
        + '}';
  }

  /** Builds a {@link PeerTransportConfig}; each setter checks its argument at once. */
  public static final class Builder {

    private String host = "127.0.0.1";
    private int port;
    private String advertisedHost;
    private int advertisedPort;
    private String processId;
    private String appId = "";
    private int maxFrameLength = Frames.DEFAULT_MAX_FRAME_LENGTH;
    private int outboundQueueLimit = DEFAULT_OUTBOUND_QUEUE_LIMIT;
    private int maxPendingSends = DEFAULT_MAX_PENDING_SENDS;
    private int inboundPrefetch = DEFAULT_INBOUND_PREFETCH;
    private boolean pooledPayloads;
    private int writeBufferLowWaterMark = 256 * 1024;
    private int writeBufferHighWaterMark = 512 * 1024;
    private Duration handshakeTimeout = Duration.ofSeconds(10);
    private Duration writeStallTimeout = DEFAULT_WRITE_STALL_TIMEOUT;
    private Duration connectTimeout = Duration.ofSeconds(5);
    private ByteBufAllocator allocator = PooledByteBufAllocator.DEFAULT;
    private @Nullable LoopResources loops;
    private @Nullable ChannelMetricsRecorder acceptedMetrics;
    private @Nullable SslContext serverTls;
    private @Nullable SslContext clientTls;
    private @Nullable PeerTickets tickets;
    private @Nullable ChannelMetricsRecorder dialedMetrics;
    private Consumer<PeerConnection> onConnected = connection -> {};

    private Builder() {}

    /** Sets the address to bind; default {@code 127.0.0.1}. */
    public Builder host(String host) {
      this.host = requireNonEmpty(host, "host");
      return this;
    }

    /** Sets the port to bind, 0 for any free port; default 0. */
    public Builder port(int port) {
      if (port < 0 || port > 65535) {
        throw new IllegalArgumentException("port: " + port + " (expected: 0..65535)");
      }
      this.port = port;
      return this;
    }

    /** Sets the port peers dial; 0, the default, for the bound port (a mapped port differs). */
    public Builder advertisedPort(int advertisedPort) {
      if (advertisedPort < 0 || advertisedPort > 65535) {
        throw new IllegalArgumentException(
            "advertisedPort: " + advertisedPort + " (expected: 0..65535)");
      }
      this.advertisedPort = advertisedPort;
      return this;
    }

    /** Sets the host peers dial; default the bind host. Needed when binding {@code 0.0.0.0}. */
    public Builder advertisedHost(String advertisedHost) {
      this.advertisedHost = requireNonEmpty(advertisedHost, "advertisedHost");
      return this;
    }

    /** Sets the process id; default a random UUID. It must be unique per running Mesh. */
    public Builder processId(String processId) {
      this.processId = requireNonEmpty(processId, "processId");
      return this;
    }

    /** Sets the appId announced in {@code Hello}; default empty. */
    public Builder appId(String appId) {
      this.appId = Objects.requireNonNull(appId, "appId");
      return this;
    }

    /** Sets the largest frame body, see {@link Frames#checkMaxFrameLength}. */
    public Builder maxFrameLength(int maxFrameLength) {
      this.maxFrameLength = Frames.checkMaxFrameLength(maxFrameLength);
      return this;
    }

    /** Sets the per-connection outbound queue limit in frames, at least 1. */
    public Builder outboundQueueLimit(int outboundQueueLimit) {
      if (outboundQueueLimit < 1) {
        throw new IllegalArgumentException(
            "outboundQueueLimit: " + outboundQueueLimit + " (expected: >= 1)");
      }
      this.outboundQueueLimit = outboundQueueLimit;
      return this;
    }

    /** Sets how many sends per connection may wait before more are refused, at least 1. */
    public Builder maxPendingSends(int maxPendingSends) {
      if (maxPendingSends < 1) {
        throw new IllegalArgumentException(
            "maxPendingSends: " + maxPendingSends + " (expected: >= 1)");
      }
      this.maxPendingSends = maxPendingSends;
      return this;
    }

    /** Sets how many inbound frames are read ahead of the dispatcher, at least 1. */
    public Builder inboundPrefetch(int inboundPrefetch) {
      if (inboundPrefetch < 1) {
        throw new IllegalArgumentException(
            "inboundPrefetch: " + inboundPrefetch + " (expected: >= 1)");
      }
      this.inboundPrefetch = inboundPrefetch;
      return this;
    }

    /**
     * Sets whether request, response and message payloads may be held in pooled arrays; default no.
     */
    public Builder pooledPayloads(boolean pooledPayloads) {
      this.pooledPayloads = pooledPayloads;
      return this;
    }

    /** Sets Netty's write-buffer water marks in bytes; default 256 KiB and 512 KiB. */
    public Builder writeBufferWaterMark(int low, int high) {
      if (low < 1 || high < low) {
        throw new IllegalArgumentException(
            "writeBufferWaterMark: " + low + ".." + high + " (expected: 1 <= low <= high)");
      }
      this.writeBufferLowWaterMark = low;
      this.writeBufferHighWaterMark = high;
      return this;
    }

    /** Sets how long the {@code Hello} exchange may take; positive. */
    public Builder handshakeTimeout(Duration handshakeTimeout) {
      this.handshakeTimeout = requirePositive(handshakeTimeout, "handshakeTimeout");
      return this;
    }

    /**
     * Sets how long sends may wait for the socket with nothing written before the connection
     * closes; {@link Duration#ZERO} for never.
     */
    public Builder writeStallTimeout(Duration writeStallTimeout) {
      Objects.requireNonNull(writeStallTimeout, "writeStallTimeout");
      if (writeStallTimeout.isNegative()) {
        throw new IllegalArgumentException(
            "writeStallTimeout: " + writeStallTimeout + " (expected: >= 0)");
      }
      this.writeStallTimeout = writeStallTimeout;
      return this;
    }

    /** Sets how long a TCP connect may take; positive, at most {@code Integer.MAX_VALUE} ms. */
    public Builder connectTimeout(Duration connectTimeout) {
      requirePositive(connectTimeout, "connectTimeout");
      if (connectTimeout.toMillis() > Integer.MAX_VALUE) {
        throw new IllegalArgumentException(
            "connectTimeout: "
                + connectTimeout
                + " (expected: at most "
                + Integer.MAX_VALUE
                + " ms)");
      }
      this.connectTimeout = connectTimeout;
      return this;
    }

    /**
     * Sets the allocator of every buffer on peer connections. The default is Netty's classic pooled
     * allocator rather than Netty 4.2's adaptive one: the adaptive allocator may take a {@code
     * StampedLock} on an event loop while it grows (BlockHound reports it as blocking, and Netty's
     * own BlockHound rules do not cover it), while the pooled allocator's locks are covered.
     */
    public Builder allocator(ByteBufAllocator allocator) {
      this.allocator = Objects.requireNonNull(allocator, "allocator");
      return this;
    }

    /**
     * Sets the event loops of peer connections, accepted and dialed; {@code null} for Reactor
     * Netty's shared {@code TcpResources}, the default. The transport does not dispose them.
     */
    public Builder loops(@Nullable LoopResources loops) {
      this.loops = loops;
      return this;
    }

    /**
     * Sets the recorders of Reactor Netty's channel metrics, for the listener's connections and for
     * dialed ones; {@code null} for none.
     */
    public Builder channelMetrics(
        @Nullable ChannelMetricsRecorder accepted, @Nullable ChannelMetricsRecorder dialed) {
      this.acceptedMetrics = accepted;
      this.dialedMetrics = dialed;
      return this;
    }

    /**
     * Sets TLS: {@code server} for the listener's connections, {@code client} for dialed ones (the
     * peer's certificate checked against the host dialed); both null for plaintext.
     */
    public Builder tls(@Nullable SslContext server, @Nullable SslContext client) {
      this.serverTls = server;
      this.clientTls = client;
      return this;
    }

    /**
     * Presents this mesh's ticket in every {@code Hello} and requires a valid one of every peer,
     * whose {@code Data} and {@code Request} frames must then come from the ticket's app; null for
     * neither.
     */
    public Builder tickets(@Nullable PeerTickets tickets) {
      this.tickets = tickets;
      return this;
    }

    /** Sets what is called with each connection once its handshake has completed. */
    public Builder onConnected(Consumer<PeerConnection> onConnected) {
      this.onConnected = Objects.requireNonNull(onConnected, "onConnected");
      return this;
    }

    /** Builds the configuration. */
    public PeerTransportConfig build() {
      return new PeerTransportConfig(this);
    }

    private static String requireNonEmpty(String value, String name) {
      Objects.requireNonNull(value, name);
      if (value.isEmpty()) {
        throw new IllegalArgumentException(name + ": \"\" (expected: not empty)");
      }
      return value;
    }

    private static Duration requirePositive(Duration value, String name) {
      Objects.requireNonNull(value, name);
      if (value.isNegative() || value.isZero()) {
        throw new IllegalArgumentException(name + ": " + value + " (expected: > 0)");
      }
      return value;
    }
  }
}

package io.skymesh.mesh.internal.naming;

import io.netty.handler.ssl.SslContext;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * The name-server client's validated configuration, built from the mesh builder's settings.
 *
 * @param appId the application the session acts for
 * @param nameServers the name-server nodes, tried in turn; at least one
 * @param sessionTtl the session TTL asked of the name server; keepalives and answer deadlines are
 *     derived from the TTL the server grants ({@link #keepAliveInterval}, {@link #answerDeadline})
 * @param requestTimeout how long a request may wait, reconnections included
 * @param reconnectMinBackoff the pause after the first round of the list in which no node answered
 * @param reconnectMaxBackoff the longest pause between rounds
 * @param startTimeout how long {@code start()} keeps trying before it fails
 * @param maxFrameLength the largest frame body sent or accepted
 * @param watchBufferSize how many events a watch holds for a subscriber that has not asked for
 *     them; past it the watch is resynced (see the client's javadoc)
 * @param timer the scheduler of every delay and deadline ({@link Schedulers#parallel()}; a virtual
 *     time scheduler in tests)
 * @param token the OpenSession token, empty for none
 * @param tls the TLS context of the connections to the nodes, or null for plaintext
 */
public record NameServerClientConfig(
    String appId,
    List<InetSocketAddress> nameServers,
    Duration sessionTtl,
    Duration requestTimeout,
    Duration reconnectMinBackoff,
    Duration reconnectMaxBackoff,
    Duration startTimeout,
    int maxFrameLength,
    int watchBufferSize,
    Scheduler timer,
    String token,
    @Nullable SslContext tls) {

  /** The default of {@link #watchBufferSize}: 1,024 events per watch. */
  public static final int DEFAULT_WATCH_BUFFER_SIZE = 1024;

  private static final String EXPECTED = "(expected: host:port[,host:port...])";

  /** Checks the components and copies the list. */
  public NameServerClientConfig {
    Objects.requireNonNull(appId, "appId");
    nameServers = List.copyOf(nameServers);
    if (nameServers.isEmpty()) {
      throw new IllegalArgumentException("nameServers: [] (expected: at least one)");
    }
    Objects.requireNonNull(sessionTtl, "sessionTtl");
    Objects.requireNonNull(requestTimeout, "requestTimeout");
    Objects.requireNonNull(reconnectMinBackoff, "reconnectMinBackoff");
    Objects.requireNonNull(reconnectMaxBackoff, "reconnectMaxBackoff");
    Objects.requireNonNull(startTimeout, "startTimeout");
    if (watchBufferSize < 1) {
      throw new IllegalArgumentException(
          "watchBufferSize: " + watchBufferSize + " (expected: >= 1)");
    }
    Objects.requireNonNull(timer, "timer");
    Objects.requireNonNull(token, "token");
  }

  /**
   * A configuration with the defaults for everything but the nodes, the TTL and the timer.
   *
   * @param appId the application
   * @param nameServers the nodes
   * @param sessionTtl the TTL asked for
   * @return the configuration
   */
  public static NameServerClientConfig of(
      String appId, List<InetSocketAddress> nameServers, Duration sessionTtl) {
    return new NameServerClientConfig(
        appId,
        nameServers,
        sessionTtl,
        Duration.ofSeconds(10),
        Duration.ofMillis(100),
        Duration.ofSeconds(5),
        Duration.ofSeconds(30),
        io.skymesh.codec.Frames.DEFAULT_MAX_FRAME_LENGTH,
        DEFAULT_WATCH_BUFFER_SIZE,
        Schedulers.parallel(),
        "",
        null);
  }

  /** This configuration with another timer. */
  public NameServerClientConfig withTimer(Scheduler timer) {
    return new NameServerClientConfig(
        appId,
        nameServers,
        sessionTtl,
        requestTimeout,
        reconnectMinBackoff,
        reconnectMaxBackoff,
        startTimeout,
        maxFrameLength,
        watchBufferSize,
        timer,
        token,
        tls);
  }

  /** This configuration with another backoff. */
  public NameServerClientConfig withReconnectBackoff(Duration min, Duration max) {
    return new NameServerClientConfig(
        appId,
        nameServers,
        sessionTtl,
        requestTimeout,
        min,
        max,
        startTimeout,
        maxFrameLength,
        watchBufferSize,
        timer,
        token,
        tls);
  }

  /** This configuration with another watch buffer size. */
  public NameServerClientConfig withWatchBufferSize(int size) {
    return new NameServerClientConfig(
        appId,
        nameServers,
        sessionTtl,
        requestTimeout,
        reconnectMinBackoff,
        reconnectMaxBackoff,
        startTimeout,
        maxFrameLength,
        size,
        timer,
        token,
        tls);
  }

  /**
   * How often a KeepAlive goes out on a session granted {@code ttl}: a quarter of it.
   *
   * @param ttl the granted TTL
   * @return the interval
   */
  public static Duration keepAliveInterval(Duration ttl) {
    return ttl.dividedBy(4);
  }

  /**
   * How long the client waits for the answer to a KeepAlive, and for a new connection's connect and
   * OpenSession, before it leaves that node: half the TTL. With keepalives every quarter TTL, a
   * node that stops answering is left at most three quarters of a TTL after its last answer, so the
   * client reaches another node while its session can still be resumed there.
   *
   * @param ttl the (granted, or asked for) TTL
   * @return the deadline
   */
  public static Duration answerDeadline(Duration ttl) {
    return ttl.dividedBy(2);
  }

  /** The nodes as {@code host:port,host:port}, for messages. */
  public String describeNameServers() {
    return String.join(",", nameServers.stream().map(NameServerClientConfig::describe).toList());
  }

  /** One node as {@code host:port}. */
  static String describe(InetSocketAddress address) {
    return address.getHostString() + ":" + address.getPort();
  }

  /**
   * Parses a list of name-server nodes, {@code host:port[,host:port...]}, without resolving them.
   * Blanks around entries are ignored; an empty entry, a missing or bad port, or a node given twice
   * is refused.
   *
   * @param name the argument's name, for the message
   * @param list the text
   * @return the nodes, in the given order
   * @throws IllegalArgumentException naming the argument, quoting the input and the expectation
   */
  public static List<InetSocketAddress> parseNameServers(String name, String list) {
    Objects.requireNonNull(list, name);
    List<InetSocketAddress> nodes = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    for (String part : list.split(",", -1)) {
      String entry = part.strip();
      InetSocketAddress node = parseNode(entry);
      if (node == null) {
        throw new IllegalArgumentException(
            name + ": '" + list + "' ('" + entry + "' is not host:port; " + EXPECTED.substring(1));
      }
      if (!seen.add(describe(node))) {
        throw new IllegalArgumentException(
            name + ": '" + list + "' ('" + entry + "' is listed twice; " + EXPECTED.substring(1));
      }
      nodes.add(node);
    }
    return List.copyOf(nodes);
  }

  private static InetSocketAddress parseNode(String entry) {
    int colon = entry.lastIndexOf(':');
    if (colon <= 0
        || colon == entry.length() - 1
        || entry.chars().anyMatch(Character::isWhitespace)) {
      return null;
    }
    String portText = entry.substring(colon + 1);
    if (!portText.chars().allMatch(c -> c >= '0' && c <= '9') || portText.length() > 5) {
      return null;
    }
    int port = Integer.parseInt(portText);
    if (port < 1 || port > 65535) {
      return null;
    }
    return InetSocketAddress.createUnresolved(entry.substring(0, colon), port);
  }
}

package io.skymesh.nameserver.etcd.internal;

import io.etcd.jetcd.ByteSequence;
import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * Where the name service's state lives in etcd, under one root (default {@code /skymesh/}):
 *
 * <ul>
 *   <li>{@code ROOT sess/SESSION} a session: attached to the session's lease; its value names the
 *       node that holds the session now, so that a resume on another node is a compare-and-set.
 *   <li>{@code ROOT svc/SERVICE/i/INSTANCE} a live instance ({@code Instance} protobuf), attached
 *       to its session's lease.
 *   <li>{@code ROOT svc/SERVICE/c/INSTANCE} the instance's campaign in its service's election,
 *       attached to the same lease; the lowest create revision leads, and that create revision is
 *       the term.
 *   <li>{@code ROOT svc/SERVICE/r/INSTANCE} why the instance was last removed by a node
 *       ("deregistered", "session closed", "cleared"), written in the same transaction as the
 *       removal and attached to the same lease, so that watchers on every node read the reason; an
 *       instance removed by its lease's expiry has none ("session expired").
 *   <li>{@code ROOT kv/KEY} a KV config entry, the value as written.
 * </ul>
 *
 * <p>A service's instances and campaigns share the prefix {@code ROOT svc/SERVICE/}, so one etcd
 * watch sees both in revision order; a watch of services whose names start with {@code P} is the
 * etcd prefix {@code ROOT svc/P}.
 */
public final class EtcdLayout {

  /** The default root. */
  public static final String DEFAULT_ROOT = "/skymesh/";

  private final String root;

  private EtcdLayout(String root) {
    this.root = root;
  }

  /**
   * A layout under {@code root}.
   *
   * @param root a non-empty prefix ending in {@code /}
   * @return the layout
   */
  public static EtcdLayout under(String root) {
    Objects.requireNonNull(root, "root");
    if (root.isEmpty() || !root.endsWith("/")) {
      throw new IllegalArgumentException("root: \"" + root + "\" (expected: ending in '/')");
    }
    return new EtcdLayout(root);
  }

  /** The session record of {@code sessionId}. */
  public ByteSequence session(String sessionId) {
    return bytes(root + "sess/" + sessionId);
  }

  /** The prefix of every session record. */
  public String sessionsRoot() {
    return root + "sess/";
  }

  /** The session id a session record's key names. */
  public String sessionIdOf(ByteSequence etcdKey) {
    return etcdKey.toString(StandardCharsets.UTF_8).substring(sessionsRoot().length());
  }

  /** Every service's state: the prefix of instances and campaigns. */
  public String servicesRoot() {
    return root + "svc/";
  }

  /** The etcd prefix of one service's instances and campaigns. */
  public ByteSequence service(String serviceName) {
    return bytes(servicesRoot() + serviceName + "/");
  }

  /** The etcd prefix of every service whose name starts with {@code namePrefix}. */
  public ByteSequence servicesStartingWith(String namePrefix) {
    return bytes(servicesRoot() + namePrefix);
  }

  /** The instance key of {@code url} ("app.env.service/instance"). */
  public ByteSequence instance(String url) {
    int slash = url.indexOf('/');
    return bytes(servicesRoot() + url.substring(0, slash) + "/i/" + url.substring(slash + 1));
  }

  /** The campaign key of {@code url} ("app.env.service/instance"). */
  public ByteSequence campaign(String url) {
    int slash = url.indexOf('/');
    return bytes(servicesRoot() + url.substring(0, slash) + "/c/" + url.substring(slash + 1));
  }

  /** The removal reason key of {@code url} ("app.env.service/instance"). */
  public ByteSequence reason(String url) {
    int slash = url.indexOf('/');
    return bytes(servicesRoot() + url.substring(0, slash) + "/r/" + url.substring(slash + 1));
  }

  /** The etcd prefix of one service's campaigns. */
  public ByteSequence campaigns(String serviceName) {
    return bytes(servicesRoot() + serviceName + "/c/");
  }

  /** The etcd key of a KV entry. */
  public ByteSequence kv(String key) {
    return bytes(root + "kv/" + key);
  }

  /** The KV key an etcd key under {@code kv/} stands for. */
  public String kvKeyOf(ByteSequence etcdKey) {
    return etcdKey.toString(StandardCharsets.UTF_8).substring(root.length() + 3);
  }

  /** What an etcd key under {@code svc/} stands for, or null if it is none of ours. */
  public ServiceKey serviceKeyOf(ByteSequence etcdKey) {
    String key = etcdKey.toString(StandardCharsets.UTF_8);
    String prefix = servicesRoot();
    if (!key.startsWith(prefix)) {
      return null;
    }
    String rest = key.substring(prefix.length());
    int slash = rest.indexOf('/');
    if (slash <= 0 || rest.length() < slash + 4 || rest.charAt(slash + 2) != '/') {
      return null;
    }
    Kind kind =
        switch (rest.charAt(slash + 1)) {
          case 'i' -> Kind.INSTANCE;
          case 'c' -> Kind.CAMPAIGN;
          case 'r' -> Kind.REASON;
          default -> null;
        };
    if (kind == null) {
      return null;
    }
    String serviceName = rest.substring(0, slash);
    return new ServiceKey(serviceName, serviceName + "/" + rest.substring(slash + 3), kind);
  }

  /** UTF-8 bytes of {@code s}. */
  public static ByteSequence bytes(String s) {
    return ByteSequence.from(s, StandardCharsets.UTF_8);
  }

  /**
   * An instance, campaign or reason key, parsed.
   *
   * @param serviceName "app.env.service"
   * @param url "app.env.service/instance"
   * @param kind which of the three
   */
  public record ServiceKey(String serviceName, String url, Kind kind) {}

  /** What a key under a service holds. */
  public enum Kind {
    /** An instance. */
    INSTANCE,
    /** A campaign. */
    CAMPAIGN,
    /** A removal reason. */
    REASON
  }
}

package io.skymesh.nameserver;

import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A client the name server knows by its token: what it may do ({@link Role}s) and in which apps. A
 * server given any principal requires a token in every {@code OpenSession}; one given none runs in
 * open mode, where anyone may do anything (the default, for demos and tests).
 *
 * <pre>{@code
 * NameServer.builder()
 *     .principal(new Principal("lobby", lobbyToken, Set.of(Role.SERVICE, Role.READER), Set.of("game")))
 *     .principal(new Principal("ops", opsToken, Set.of(Role.ADMIN), Set.of(Principal.ANY_APP)))
 * }</pre>
 *
 * <p>The rights, each within the principal's apps: {@code SERVICE} opens sessions, registers,
 * deregisters and sets attributes of its instances, campaigns and resigns, and reads; {@code
 * READER} watches services, lists and reads KV keys; {@code ADMIN} does what a reader does, writes
 * and deletes KV keys, and clears services. A service's app is the ServiceUrl's app id; a KV key's
 * is the part before its first {@code /}. A request that reaches beyond one app (an empty watch
 * prefix, a KV prefix without {@code /}) needs {@link #ANY_APP}.
 *
 * @param name who it is, for logs and error messages; never the token
 * @param token the secret the client sends in {@code OpenSession.token}
 * @param roles what it may do; not empty
 * @param apps the app ids it may do it in, or {@link #ANY_APP}; not empty
 */
public record Principal(String name, String token, Set<Role> roles, Set<String> apps) {

  /** In {@link #apps()}: every app. */
  public static final String ANY_APP = "*";

  private static final Pattern APP_ID = Pattern.compile("[A-Za-z0-9_-]{1,64}");

  /** What a principal may do. */
  public enum Role {
    /** Registers and campaigns in its apps, and reads them. */
    SERVICE,
    /** Watches and reads its apps' services and KV keys. */
    READER,
    /** Reads, writes KV keys and clears services in its apps. */
    ADMIN
  }

  /**
   * Validates and copies.
   *
   * @throws IllegalArgumentException naming the bad part
   */
  public Principal {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(token, "token");
    if (name.isBlank()) {
      throw new IllegalArgumentException("principal name: empty");
    }
    if (token.isEmpty()) {
      throw new IllegalArgumentException("principal " + name + ": empty token");
    }
    if (roles.isEmpty()) {
      throw new IllegalArgumentException("principal " + name + ": no role");
    }
    if (apps.isEmpty()) {
      throw new IllegalArgumentException("principal " + name + ": no app");
    }
    for (String app : apps) {
      if (!app.equals(ANY_APP) && !APP_ID.matcher(app).matches()) {
        throw new IllegalArgumentException(
            "principal "
                + name
                + ": app \""
                + app
                + "\" (expected: 1 to 64 of [A-Za-z0-9_-], or * for every app)");
      }
    }
    roles = Set.copyOf(EnumSet.copyOf(roles));
    apps = Set.copyOf(apps);
  }

  /**
   * Whether it has {@code role} in {@code app}. {@code SERVICE} and {@code ADMIN} include {@code
   * READER}.
   */
  public boolean may(Role role, String app) {
    return hasRole(role) && (apps.contains(ANY_APP) || apps.contains(app));
  }

  /** Whether it has {@code role} in every app, for requests that span apps. */
  public boolean mayEverywhere(Role role) {
    return hasRole(role) && apps.contains(ANY_APP);
  }

  private boolean hasRole(Role role) {
    return roles.contains(role)
        || (role == Role.READER && (roles.contains(Role.SERVICE) || roles.contains(Role.ADMIN)));
  }

  /** The name, roles and apps; never the token. */
  @Override
  public String toString() {
    return "principal " + name + " " + roles + " in " + apps;
  }
}

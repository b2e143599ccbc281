package io.skymesh.nameserver.internal;

import io.skymesh.nameserver.Principal;
import io.skymesh.nameserver.Principal.Role;
import io.skymesh.proto.NameClientFrame;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * Who may do what: the principals by token, and the check of each request against its session's
 * principal, made before the request is handled, so a refused request changes nothing. Tokens are
 * kept as SHA-256 digests and looked up by digest: the lookup's timing says nothing about a token
 * that the digest does not already hide.
 */
final class Access {

  private static final String SCHEME = "skymesh://";

  private final Map<String, Principal> byDigest = new HashMap<>();

  Access(List<Principal> principals) {
    for (Principal principal : principals) {
      byDigest.put(digest(principal.token()), principal);
    }
  }

  /** Whether no principal is configured: anyone may do anything. */
  boolean open() {
    return byDigest.isEmpty();
  }

  /** The principal of {@code token}, or null if it is unknown (or empty). */
  Principal authenticate(String token) {
    return token.isEmpty() ? null : byDigest.get(digest(token));
  }

  /**
   * Why {@code principal} may not open a session for {@code appId}, or null if it may. A principal
   * that only runs services opens sessions for its own apps (its session registers in its app, so
   * any other is a mistake best refused at once); a reader or an admin may name any app id, such as
   * the admin CLI's, since a session registers nothing without {@code SERVICE} in its app.
   */
  static String deniedSession(Principal principal, String appId) {
    if (principal.roles().contains(Role.READER)
        || principal.roles().contains(Role.ADMIN)
        || principal.may(Role.SERVICE, appId)) {
      return null;
    }
    return principal.name() + " may not open a session for app " + quote(appId);
  }

  /**
   * Why {@code principal} may not make {@code request}, or null if it may. Requests that carry no
   * target (KeepAlive, Unwatch, HealthCheck, OpenSession again, an unknown body) are always
   * allowed: their handling needs no right. {@code IssueTicket} targets the session's own app,
   * {@code sessionApp}.
   */
  static String denied(Principal principal, String sessionApp, NameClientFrame request) {
    return switch (request.getBodyCase()) {
      case REGISTER ->
          needs(
              principal,
              Role.SERVICE,
              appOfUrl(request.getRegister().getInstance().getUrl()),
              "register in");
      case DEREGISTER ->
          needs(
              principal, Role.SERVICE, appOfUrl(request.getDeregister().getUrl()), "deregister in");
      case SET_ATTRIBUTES ->
          needs(
              principal,
              Role.SERVICE,
              appOfUrl(request.getSetAttributes().getUrl()),
              "set attributes in");
      case CAMPAIGN ->
          needs(principal, Role.SERVICE, appOfUrl(request.getCampaign().getUrl()), "campaign in");
      case RESIGN ->
          needs(principal, Role.SERVICE, appOfUrl(request.getResign().getUrl()), "resign in");
      case WATCH ->
          request.getWatch().hasPrefix()
              ? needs(
                  principal,
                  Role.READER,
                  appOfServicePrefix(request.getWatch().getPrefix()),
                  "watch")
              : needs(
                  principal, Role.READER, appOfUrl(request.getWatch().getServiceName()), "watch");
      case KV_GET ->
          needs(principal, Role.READER, appOfKey(request.getKvGet().getKey()), "read KV keys of");
      case KV_LIST ->
          needs(
              principal,
              Role.READER,
              appOfKeyPrefix(request.getKvList().getPrefix()),
              "list KV keys of");
      case KV_WATCH ->
          needs(
              principal,
              Role.READER,
              appOfKeyPrefix(request.getKvWatch().getPrefix()),
              "watch KV keys of");
      case KV_PUT ->
          needs(principal, Role.ADMIN, appOfKey(request.getKvPut().getKey()), "write KV keys of");
      case KV_DELETE ->
          needs(
              principal,
              Role.ADMIN,
              request.getKvDelete().getPrefix()
                  ? appOfKeyPrefix(request.getKvDelete().getKey())
                  : appOfKey(request.getKvDelete().getKey()),
              "delete KV keys of");
      case CLEAR_SERVICES ->
          needs(
              principal,
              Role.ADMIN,
              appOfServicePrefix(request.getClearServices().getPrefix()),
              "clear services of");
      // A ticket says its holder runs services of the session's app, so it takes that right.
      case ISSUE_TICKET -> needs(principal, Role.SERVICE, sessionApp, "hold a peer ticket for");
      case OPEN_SESSION, KEEP_ALIVE, UNWATCH, HEALTH_CHECK, BODY_NOT_SET -> null;
    };
  }

  /** Null if {@code principal} has {@code role} in {@code app} (null: every app), else why not. */
  private static String needs(Principal principal, Role role, String app, String what) {
    if (app == null ? principal.mayEverywhere(role) : principal.may(role, app)) {
      return null;
    }
    return principal.name()
        + " may not "
        + what
        + (app == null ? " every app" : " app " + quote(app))
        + " (it needs role "
        + role
        + (app == null ? " for every app, *" : " for " + quote(app))
        + "; it has "
        + principal.roles()
        + " in "
        + principal.apps()
        + ")";
  }

  /** The app id of a ServiceUrl or ServiceName: before the first dot; null if there is none. */
  static String appOfUrl(String url) {
    String body = url.startsWith(SCHEME) ? url.substring(SCHEME.length()) : url;
    int dot = body.indexOf('.');
    return dot > 0 ? body.substring(0, dot) : null;
  }

  /** The one app a watch or clear prefix stays in, or null when it may span apps. */
  static String appOfServicePrefix(String prefix) {
    return appOfUrl(prefix);
  }

  /** The app of a KV key: before the first {@code /}; null if there is none. */
  static String appOfKey(String key) {
    int slash = key.indexOf('/');
    return slash > 0 ? key.substring(0, slash) : null;
  }

  /** The one app a KV prefix stays in, or null when it may span apps. */
  static String appOfKeyPrefix(String prefix) {
    return appOfKey(prefix);
  }

  /** A client's text in an error: at most 64 characters of it, and how long it was. */
  static String quote(String text) {
    return text.length() <= 64
        ? "\"" + text + "\""
        : "\"" + text.substring(0, 64) + "...\" (" + text.length() + " characters)";
  }

  private static String digest(String token) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }
}

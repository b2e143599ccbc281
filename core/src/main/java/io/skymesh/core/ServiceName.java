package io.skymesh.core;

import java.util.Objects;

/**
 * The name of a service: {@code appId.env.service}, for example {@code game.zone1.lobby}. Each part
 * is 1 to 64 of {@code [A-Za-z0-9_-]}. {@code appId} is the application, {@code env} a second scope
 * (a region, a game zone), {@code service} the service.
 *
 * <pre>{@code
 * ServiceName lobby = ServiceName.parse("game.zone1.lobby");
 * ServiceUrl seven = lobby.instance("7");
 * }</pre>
 *
 * @param appId the application
 * @param env the scope within the application
 * @param service the service
 */
public record ServiceName(String appId, String env, String service)
    implements Comparable<ServiceName> {

  /**
   * Creates a name from its parts.
   *
   * @throws IllegalArgumentException if a part is not 1 to 64 of {@code [A-Za-z0-9_-]}
   */
  public ServiceName {
    if (!Names.isPart(appId) || !Names.isPart(env) || !Names.isPart(service)) {
      String whole = appId + "." + env + "." + service;
      Names.checkPart("ServiceName", whole, "appId", appId);
      Names.checkPart("ServiceName", whole, "env", env);
      Names.checkPart("ServiceName", whole, "service", service);
    }
  }

  /**
   * Parses {@code [skymesh://]appId.env.service}.
   *
   * @param text the name
   * @return the name
   * @throws IllegalArgumentException quoting {@code text} and naming the bad part
   */
  public static ServiceName parse(String text) {
    Objects.requireNonNull(text, "text");
    Names.checkLength("ServiceName", text, Names.MAX_URL_LENGTH);
    String body = Names.stripScheme("ServiceName", text);
    if (body.indexOf('/') >= 0) {
      throw new IllegalArgumentException(
          "Invalid ServiceName " + Names.quote(text) + ": a ServiceName has no '/instanceId'");
    }
    return parseBody("ServiceName", text, body);
  }

  static ServiceName parseBody(String kind, String whole, String body) {
    String[] parts = body.split("\\.", -1);
    if (parts.length != 3) {
      throw new IllegalArgumentException(
          "Invalid "
              + kind
              + " "
              + Names.quote(whole)
              + ": expected appId.env.service, found "
              + parts.length
              + " dot-separated part"
              + (parts.length == 1 ? "" : "s"));
    }
    return new ServiceName(
        Names.checkPart(kind, whole, "appId", parts[0]),
        Names.checkPart(kind, whole, "env", parts[1]),
        Names.checkPart(kind, whole, "service", parts[2]));
  }

  /**
   * Names one instance of this service.
   *
   * @param instanceId the instance, 1 to 64 of {@code [A-Za-z0-9_-]}
   * @return the instance's ServiceUrl
   */
  public ServiceUrl instance(String instanceId) {
    return new ServiceUrl(this, instanceId);
  }

  /** Whether {@code url} is an instance of this service. */
  public boolean contains(ServiceUrl url) {
    return equals(url.serviceName());
  }

  @Override
  public int compareTo(ServiceName other) {
    return toString().compareTo(other.toString());
  }

  /** The canonical form, {@code appId.env.service}, without the scheme. */
  @Override
  public String toString() {
    return appId + "." + env + "." + service;
  }

  /** Equal parts; the same instance first. */
  @Override
  public boolean equals(Object other) {
    return this == other
        || other instanceof ServiceName name
            && service.equals(name.service)
            && env.equals(name.env)
            && appId.equals(name.appId);
  }

  @Override
  public int hashCode() {
    return (31 * appId.hashCode() + env.hashCode()) * 31 + service.hashCode();
  }
}

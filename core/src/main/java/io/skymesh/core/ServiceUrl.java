package io.skymesh.core;

import java.util.Objects;

/**
 * The name of one service instance: {@code [skymesh://]appId.env.service/instanceId}, for example
 * {@code skymesh://game.zone1.lobby/7}. One ServiceUrl names exactly one live instance in the whole
 * mesh.
 *
 * <pre>{@code
 * ServiceUrl url = ServiceUrl.parse("skymesh://game.zone1.lobby/7");
 * url.serviceName(); // game.zone1.lobby
 * url.toString();    // game.zone1.lobby/7 (canonical, as on the wire)
 * }</pre>
 *
 * @param serviceName the service
 * @param instanceId the instance, 1 to 64 of {@code [A-Za-z0-9_-]}
 */
public record ServiceUrl(ServiceName serviceName, String instanceId)
    implements Comparable<ServiceUrl> {

  /**
   * Creates a url from its parts.
   *
   * @throws IllegalArgumentException if {@code instanceId} is not 1 to 64 of {@code [A-Za-z0-9_-]}
   */
  public ServiceUrl {
    Objects.requireNonNull(serviceName, "serviceName");
    if (!Names.isPart(instanceId)) {
      Names.checkPart("ServiceUrl", serviceName + "/" + instanceId, "instanceId", instanceId);
    }
  }

  /**
   * Creates a url from its four parts.
   *
   * @throws IllegalArgumentException naming the bad part
   */
  public static ServiceUrl of(String appId, String env, String service, String instanceId) {
    return new ServiceUrl(new ServiceName(appId, env, service), instanceId);
  }

  /**
   * Parses {@code [skymesh://]appId.env.service/instanceId}.
   *
   * @param text the url
   * @return the url
   * @throws IllegalArgumentException quoting {@code text} and naming the bad part
   */
  public static ServiceUrl parse(String text) {
    Objects.requireNonNull(text, "text");
    Names.checkLength("ServiceUrl", text, Names.MAX_URL_LENGTH);
    String body = Names.stripScheme("ServiceUrl", text);
    int slash = body.indexOf('/');
    if (slash < 0) {
      throw new IllegalArgumentException(
          "Invalid ServiceUrl "
              + Names.quote(text)
              + ": expected appId.env.service/instanceId, no '/' found");
    }
    if (body.indexOf('/', slash + 1) >= 0) {
      throw new IllegalArgumentException(
          "Invalid ServiceUrl "
              + Names.quote(text)
              + ": more than one '/' (instanceId may not contain '/')");
    }
    ServiceName name = ServiceName.parseBody("ServiceUrl", text, body.substring(0, slash));
    return new ServiceUrl(
        name, Names.checkPart("ServiceUrl", text, "instanceId", body.substring(slash + 1)));
  }

  /** The application, the first part of the service name. */
  public String appId() {
    return serviceName.appId();
  }

  /** The form with the scheme: {@code skymesh://appId.env.service/instanceId}. */
  public String toUriString() {
    return Names.SCHEME + this;
  }

  @Override
  public int compareTo(ServiceUrl other) {
    int byName = serviceName.compareTo(other.serviceName);
    return byName != 0 ? byName : instanceId.compareTo(other.instanceId);
  }

  /** The canonical form, {@code appId.env.service/instanceId}, without the scheme. */
  @Override
  public String toString() {
    return serviceName + "/" + instanceId;
  }

  /** Equal parts; the same instance first, as most look-ups on the request path find it. */
  @Override
  public boolean equals(Object other) {
    return this == other
        || other instanceof ServiceUrl url
            && instanceId.equals(url.instanceId)
            && serviceName.equals(url.serviceName);
  }

  @Override
  public int hashCode() {
    return 31 * serviceName.hashCode() + instanceId.hashCode();
  }
}

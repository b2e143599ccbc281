package io.skymesh.mesh;

import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import java.util.Objects;
import java.util.Optional;

/**
 * Who leads a service's election, as the name server last said: the leading instance (empty when
 * nobody leads) and the term, a fencing token that grows by one with each new leader.
 *
 * @param serviceName the service
 * @param url the leading instance, or empty when nobody leads
 * @param term the term of the leader; when nobody leads, the term of the last one (0 if none ever
 *     led)
 * @param revision the name server's revision of the change
 */
public record Leader(ServiceName serviceName, Optional<ServiceUrl> url, long term, long revision) {

  /**
   * Checks the components.
   *
   * @throws NullPointerException if {@code serviceName} or {@code url} is null
   */
  public Leader {
    Objects.requireNonNull(serviceName, "serviceName");
    Objects.requireNonNull(url, "url");
  }

  /**
   * Nobody leads.
   *
   * @param serviceName the service
   * @param term the term of the last leader, 0 if none
   * @param revision the revision
   * @return the value
   */
  public static Leader none(ServiceName serviceName, long term, long revision) {
    return new Leader(serviceName, Optional.empty(), term, revision);
  }

  /** Whether somebody leads. */
  public boolean isPresent() {
    return url.isPresent();
  }

  /** Whether {@code instance} leads. */
  public boolean isLeader(ServiceUrl instance) {
    return url.isPresent() && url.get().equals(instance);
  }
}

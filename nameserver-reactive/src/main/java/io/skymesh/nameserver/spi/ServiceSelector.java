package io.skymesh.nameserver.spi;

import java.util.Objects;

/**
 * What an instance watch covers: exactly one service, or every service whose ServiceName starts
 * with a prefix (empty: every service).
 *
 * @param serviceName the canonical ServiceName "appId.env.service", or null for a prefix
 * @param prefix the ServiceName prefix (no {@code '/'}), or null for one service
 */
public record ServiceSelector(String serviceName, String prefix) {

  /**
   * Checks that exactly one of the two is set.
   *
   * @throws IllegalArgumentException if both or neither is set
   */
  public ServiceSelector {
    if ((serviceName == null) == (prefix == null)) {
      throw new IllegalArgumentException(
          "serviceName: " + serviceName + ", prefix: " + prefix + " (expected: exactly one)");
    }
  }

  /**
   * One service.
   *
   * @param serviceName the canonical ServiceName
   * @return the selector
   */
  public static ServiceSelector service(String serviceName) {
    return new ServiceSelector(Objects.requireNonNull(serviceName, "serviceName"), null);
  }

  /**
   * Every service whose name starts with {@code prefix}.
   *
   * @param prefix the ServiceName prefix; empty for every service
   * @return the selector
   */
  public static ServiceSelector prefix(String prefix) {
    return new ServiceSelector(null, Objects.requireNonNull(prefix, "prefix"));
  }

  /**
   * Whether a change of {@code changedServiceName} concerns this selector.
   *
   * @param changedServiceName a canonical ServiceName
   * @return true if it is the service, or starts with the prefix
   */
  public boolean matches(String changedServiceName) {
    return serviceName != null
        ? serviceName.equals(changedServiceName)
        : changedServiceName.startsWith(prefix);
  }
}

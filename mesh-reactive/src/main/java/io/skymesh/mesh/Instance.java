package io.skymesh.mesh;

import io.skymesh.core.ServiceUrl;
import java.util.Map;
import java.util.Objects;

/**
 * One live instance of a service, as the name server announced it.
 *
 * @param url the instance's ServiceUrl
 * @param address where its process accepts peer connections, {@code host:port}
 * @param weight its relative weight for weighted routing, at least 1
 * @param attributes its application attributes
 * @param processId the id of the process hosting it; instances with the same id share a connection
 * @param revision the name-server revision of its last change
 */
public record Instance(
    ServiceUrl url,
    String address,
    int weight,
    Map<String, String> attributes,
    String processId,
    long revision) {

  /** Creates an instance; {@code attributes} is copied. */
  public Instance {
    Objects.requireNonNull(url, "url");
    Objects.requireNonNull(address, "address");
    attributes = Map.copyOf(attributes);
    Objects.requireNonNull(processId, "processId");
    if (weight < 1) {
      throw new IllegalArgumentException("weight: " + weight + " (expected: >= 1)");
    }
  }
}

package io.skymesh.mesh;

import io.skymesh.core.ServiceUrl;
import java.util.Map;
import java.util.Objects;

/**
 * An instance's attributes as {@link NameRouter#attributes()} tells them: when the instance is
 * first seen, and after every change to them.
 *
 * @param url the instance
 * @param attributes its attributes now, the whole map
 * @param revision the name-server revision at which they took this value
 */
public record AttributesChange(ServiceUrl url, Map<String, String> attributes, long revision) {

  /** Creates a change; {@code attributes} is copied. */
  public AttributesChange {
    Objects.requireNonNull(url, "url");
    attributes = Map.copyOf(attributes);
  }
}

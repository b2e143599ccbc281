package io.skymesh.mesh;

import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The live instances of one service at one name-server revision, sorted by ServiceUrl. Immutable:
 * routing policies read it without locks.
 *
 * @param serviceName the service
 * @param instances the live instances, sorted by url
 * @param revision the name-server revision this view reflects
 */
public record ServiceView(ServiceName serviceName, List<Instance> instances, long revision) {

  /** Creates a view; {@code instances} is copied and sorted by url. */
  public ServiceView {
    Objects.requireNonNull(serviceName, "serviceName");
    List<Instance> sorted = new ArrayList<>(instances);
    sorted.sort(Comparator.comparing(Instance::url));
    instances = List.copyOf(sorted);
  }

  /** An empty view of {@code serviceName} at revision 0. */
  public static ServiceView empty(ServiceName serviceName) {
    return new ServiceView(serviceName, List.of(), 0);
  }

  /** The instance with this url, if it is live in this view. */
  public Optional<Instance> instance(ServiceUrl url) {
    for (Instance instance : instances) {
      if (instance.url().equals(url)) {
        return Optional.of(instance);
      }
    }
    return Optional.empty();
  }

  /** How many instances are live. */
  public int size() {
    return instances.size();
  }

  /** Whether no instance is live. */
  public boolean isEmpty() {
    return instances.isEmpty();
  }
}

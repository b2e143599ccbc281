package io.skymesh.mesh.internal.routing;

import io.skymesh.core.ServiceName;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * A policy's state for each service it has routed, so a policy object shared between services never
 * mixes their turns (go-micro-service shared one round-robin index across services). The look-up
 * allocates nothing once the service's state exists. States of services no longer routed are kept:
 * there are as many as services this policy object has seen.
 *
 * @param <S> the per-service state
 */
final class PerService<S> {

  private final Function<ServiceName, S> create;
  private final ConcurrentHashMap<ServiceName, S> states = new ConcurrentHashMap<>();

  PerService(Function<ServiceName, S> create) {
    this.create = create;
  }

  S of(ServiceName service) {
    S state = states.get(service);
    return state != null ? state : states.computeIfAbsent(service, create);
  }
}

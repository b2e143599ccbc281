package io.skymesh.mesh;

import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.SkymeshException;
import java.util.Objects;

/**
 * A message or notification that never reached its handler (or whose handler failed), as its
 * receiver reported it to the sender; see {@link MeshService#undelivered()}.
 *
 * @param source the sending instance
 * @param destination the addressed instance as the message named it (it may not be a valid url)
 * @param method the notification's method; empty for a {@code sendTo} message
 * @param reason why, typed: {@code ServiceNotFoundException} (no such instance there, or closed),
 *     {@code NotLeaderException} (fenced), {@code OverloadedException} (the service runs its
 *     maximum of handlers), a {@code RemoteException} for a bad url or the handler's own failure
 */
public record Undelivered(
    ServiceUrl source, String destination, String method, SkymeshException reason) {

  /** Checks that no component is null. */
  public Undelivered {
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(destination, "destination");
    Objects.requireNonNull(method, "method");
    Objects.requireNonNull(reason, "reason");
  }
}

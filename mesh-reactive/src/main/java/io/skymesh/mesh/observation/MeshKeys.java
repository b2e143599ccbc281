package io.skymesh.mesh.observation;

import io.micrometer.common.KeyValues;
import io.skymesh.core.ServiceUrl;
import org.jspecify.annotations.Nullable;

/** The keys both default conventions share. */
final class MeshKeys {

  static final String SERVICE = "service";
  static final String METHOD = "method";
  static final String KIND = "kind";
  static final String STATUS = "status";
  static final String DESTINATION = "destination";
  static final String SOURCE = "source";

  /** The {@code method} of a message, which has none. */
  static final String NONE = "none";

  /** The {@code status} of a call still running when the keys are read (at its start). */
  static final String UNKNOWN = "UNKNOWN";

  private MeshKeys() {}

  static String spanName(MeshCallKind kind, ServiceUrl destination, @Nullable String method) {
    String service = destination.serviceName().toString();
    return method == null
        ? kind.value() + " " + service
        : kind.value() + " " + service + "/" + method;
  }

  static KeyValues low(
      ServiceUrl destination, @Nullable String method, MeshCallKind kind, @Nullable String status) {
    return KeyValues.of(
        SERVICE,
        destination.serviceName().toString(),
        METHOD,
        method == null ? NONE : method,
        KIND,
        kind.value(),
        STATUS,
        status == null ? UNKNOWN : status);
  }
}

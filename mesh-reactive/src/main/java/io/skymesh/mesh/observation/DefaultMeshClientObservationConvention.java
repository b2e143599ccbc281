package io.skymesh.mesh.observation;

import io.micrometer.common.KeyValues;

/**
 * The mesh's caller-side convention: the observation {@value #NAME}, its span named {@code "<kind>
 * <service>/<method>"} ({@code "send <service>"} for a message); low-cardinality keys {@code
 * service} (the called service's name), {@code method} ({@code none} for a message), {@code kind}
 * ({@code request}, {@code notify}, {@code send}) and {@code status} ({@code OK}, a status code's
 * name, {@code CANCELLED}); high-cardinality key {@code destination} (the called instance).
 */
public class DefaultMeshClientObservationConvention implements MeshClientObservationConvention {

  /** The observation's name. */
  public static final String NAME = "skymesh.client.requests";

  /** The one instance; the class is open so that a convention may extend it. */
  public static final DefaultMeshClientObservationConvention INSTANCE =
      new DefaultMeshClientObservationConvention();

  /** Creates the convention; prefer {@link #INSTANCE}. */
  public DefaultMeshClientObservationConvention() {}

  @Override
  public String getName() {
    return NAME;
  }

  @Override
  public String getContextualName(MeshSenderContext context) {
    return MeshKeys.spanName(context.kind(), context.destination(), context.method());
  }

  @Override
  public KeyValues getLowCardinalityKeyValues(MeshSenderContext context) {
    return MeshKeys.low(context.destination(), context.method(), context.kind(), context.status());
  }

  @Override
  public KeyValues getHighCardinalityKeyValues(MeshSenderContext context) {
    return KeyValues.of(MeshKeys.DESTINATION, context.destination().toString());
  }
}

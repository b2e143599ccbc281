package io.skymesh.mesh.observation;

import io.micrometer.common.KeyValues;

/**
 * The mesh's receiver-side convention: the observation {@value #NAME}, its span named {@code
 * "<kind> <service>/<method>"} ({@code "send <service>"} for a message); low-cardinality keys
 * {@code service} (the handling service's name), {@code method} ({@code none} for a message),
 * {@code kind} ({@code request}, {@code notify}, {@code send}) and {@code status} ({@code OK}, the
 * status code's name the caller hears, {@code CANCELLED}); high-cardinality key {@code source} (the
 * calling instance).
 */
public class DefaultMeshServerObservationConvention implements MeshServerObservationConvention {

  /** The observation's name. */
  public static final String NAME = "skymesh.server.requests";

  /** The one instance; the class is open so that a convention may extend it. */
  public static final DefaultMeshServerObservationConvention INSTANCE =
      new DefaultMeshServerObservationConvention();

  /** Creates the convention; prefer {@link #INSTANCE}. */
  public DefaultMeshServerObservationConvention() {}

  @Override
  public String getName() {
    return NAME;
  }

  @Override
  public String getContextualName(MeshReceiverContext context) {
    return MeshKeys.spanName(context.kind(), context.destination(), context.method());
  }

  @Override
  public KeyValues getLowCardinalityKeyValues(MeshReceiverContext context) {
    return MeshKeys.low(context.destination(), context.method(), context.kind(), context.status());
  }

  @Override
  public KeyValues getHighCardinalityKeyValues(MeshReceiverContext context) {
    return KeyValues.of(MeshKeys.SOURCE, context.source().toString());
  }
}

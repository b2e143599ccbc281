package io.skymesh.mesh.observation;

import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationConvention;

/**
 * Names and keys of the receiver's observations; {@link DefaultMeshServerObservationConvention} is
 * the mesh's. Register an implementation as a {@code GlobalObservationConvention} on the registry
 * to replace it.
 */
public interface MeshServerObservationConvention
    extends ObservationConvention<MeshReceiverContext> {

  @Override
  default boolean supportsContext(Observation.Context context) {
    return context instanceof MeshReceiverContext;
  }
}

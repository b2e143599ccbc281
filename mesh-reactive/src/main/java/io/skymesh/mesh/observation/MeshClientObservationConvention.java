package io.skymesh.mesh.observation;

import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationConvention;

/**
 * Names and keys of the caller's observations; {@link DefaultMeshClientObservationConvention} is
 * the mesh's. Register an implementation as a {@code GlobalObservationConvention} on the registry
 * to replace it.
 */
public interface MeshClientObservationConvention extends ObservationConvention<MeshSenderContext> {

  @Override
  default boolean supportsContext(Observation.Context context) {
    return context instanceof MeshSenderContext;
  }
}

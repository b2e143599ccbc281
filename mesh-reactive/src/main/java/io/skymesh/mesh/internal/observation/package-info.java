/**
 * Observations of the mesh's calls and handlers, around the paths below. Internal: no compatibility
 * promise.
 */
package io.skymesh.mesh.internal.observation;

/**
 * Micrometer observations of the mesh's calls and handlers: the contexts and the default names and
 * keys, which an application may replace with its own {@code GlobalObservationConvention}.
 */
package io.skymesh.mesh.observation;

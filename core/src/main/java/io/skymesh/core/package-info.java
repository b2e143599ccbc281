/**
 * The names of the mesh: {@link io.skymesh.core.ServiceName} and {@link
 * io.skymesh.core.ServiceUrl}.
 */
package io.skymesh.core;

/** The routing policies' implementations. Internal: no compatibility promise. */
package io.skymesh.mesh.internal.routing;

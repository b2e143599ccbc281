/** The mesh client's implementation. Internal: no compatibility promise. */
package io.skymesh.mesh.internal;

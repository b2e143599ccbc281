/** The mesh's session with the name server: requests, keepalives, reconnection and watches. */
package io.skymesh.mesh.internal.naming;

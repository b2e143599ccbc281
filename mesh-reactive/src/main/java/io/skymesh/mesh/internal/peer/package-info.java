/**
 * The data plane: where a destination is (this process or a peer's), the one connection cache,
 * sending and broadcasting {@code Data}, the inbound frame switch and the release of departed
 * peers. No compatibility promise.
 */
package io.skymesh.mesh.internal.peer;

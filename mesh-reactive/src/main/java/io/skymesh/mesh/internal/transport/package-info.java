/**
 * The peer transport of the mesh client: one multiplexed TCP connection per remote process,
 * carrying {@code PeerFrame}s with batching, backpressure both ways and a handshake; internal, with
 * no compatibility promise.
 */
package io.skymesh.mesh.internal.transport;

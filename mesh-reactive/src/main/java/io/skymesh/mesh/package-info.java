/**
 * The Skymesh client: {@link io.skymesh.mesh.Mesh} registers services and sends to peers; {@link
 * io.skymesh.mesh.NameRouter} shows who is alive as hot streams.
 */
package io.skymesh.mesh;

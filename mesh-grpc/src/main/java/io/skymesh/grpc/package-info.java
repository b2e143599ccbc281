/**
 * gRPC-java on the mesh: {@code skymesh:///app.env.service} channel targets resolved by the mesh's
 * membership stream, and gRPC servers registered as mesh instances.
 */
package io.skymesh.grpc;

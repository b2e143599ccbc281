/**
 * Skymesh's gRPC helloworld: gRPC greeter servers registered in the mesh, and a plain gRPC channel
 * on {@code skymesh:///hello.local.grpc-greeter} that follows them with {@code round_robin}.
 */
package io.skymesh.examples.grpc;

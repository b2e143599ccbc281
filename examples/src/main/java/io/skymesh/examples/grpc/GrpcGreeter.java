package io.skymesh.examples.grpc;

import io.grpc.Grpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.stub.StreamObserver;
import io.skymesh.core.ServiceUrl;
import io.skymesh.examples.grpc.proto.GreeterGrpc;
import io.skymesh.examples.grpc.proto.HelloReply;
import io.skymesh.examples.grpc.proto.HelloRequest;
import io.skymesh.grpc.GrpcRegistration;
import io.skymesh.mesh.Mesh;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Objects;
import reactor.core.publisher.Mono;

/** A gRPC greeter server that says which server answered, registered in the mesh. */
public final class GrpcGreeter extends GreeterGrpc.GreeterImplBase {

  private final String serverName;

  private GrpcGreeter(String serverName) {
    this.serverName = serverName;
  }

  @Override
  public void sayHello(HelloRequest request, StreamObserver<HelloReply> responseObserver) {
    responseObserver.onNext(
        HelloReply.newBuilder()
            .setMessage("Hello, " + request.getName() + "!")
            .setServer(serverName)
            .build());
    responseObserver.onCompleted();
  }

  /**
   * Starts a greeter server on a free port and registers it in the mesh under {@code url}, its
   * {@code 127.0.0.1:port} in the instance attribute {@code grpc.address}.
   *
   * @param mesh the mesh to register in
   * @param url the server's ServiceUrl; its instance id is the server's name in replies
   * @return the registration (its server is running)
   */
  public static Mono<GrpcRegistration> start(Mesh mesh, ServiceUrl url) {
    return start(mesh, url, InsecureServerCredentials.create());
  }

  /**
   * Starts a greeter server on a free port with {@code credentials} (for example {@code
   * TlsServerCredentials}) and registers it in the mesh under {@code url}, its {@code
   * 127.0.0.1:port} in the instance attribute {@code grpc.address}.
   *
   * @param mesh the mesh to register in
   * @param url the server's ServiceUrl; its instance id is the server's name in replies
   * @param credentials the server's transport security
   * @return the registration (its server is running)
   */
  public static Mono<GrpcRegistration> start(
      Mesh mesh, ServiceUrl url, ServerCredentials credentials) {
    Objects.requireNonNull(credentials, "credentials");
    return Mono.defer(
        () -> {
          Server server;
          try {
            server =
                Grpc.newServerBuilderForPort(0, credentials)
                    .addService(new GrpcGreeter("server-" + url.instanceId()))
                    .build()
                    .start();
          } catch (IOException e) {
            return Mono.error(new UncheckedIOException(e));
          }
          return GrpcRegistration.register(mesh, server, url).doOnError(e -> server.shutdownNow());
        });
  }
}

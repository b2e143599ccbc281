package io.skymesh.benchmarks;

import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.ServiceOptions;
import io.skymesh.mesh.rpc.Methods;
import io.skymesh.nameserver.NameServer;
import java.time.Duration;
import reactor.core.publisher.Mono;

/**
 * The Skymesh side of the benchmarks against RSocket and gRPC: an embedded name server and two
 * meshes in this JVM, each with its own listener, one serving a service and one calling it. Setup
 * and teardown only; they block.
 */
final class MeshPair {

  private final NameServer nameServer;
  private final Mesh serverMesh;
  private final Mesh clientMesh;

  private MeshPair(NameServer nameServer, Mesh serverMesh, Mesh clientMesh) {
    this.nameServer = nameServer;
    this.serverMesh = serverMesh;
    this.clientMesh = clientMesh;
  }

  /**
   * Starts the name server and both meshes, registers {@code server} with {@code methods} on one
   * and {@code caller} on the other, and waits until the caller's mesh sees the server.
   *
   * @return the pair and the caller
   */
  static MeshPair start(
      String transport,
      String observability,
      ServiceUrl server,
      Methods methods,
      Duration timeout) {
    NameServer nameServer = NameServer.builder().port(0).start().block(timeout);
    String address = "127.0.0.1:" + nameServer.port();
    Mesh serverMesh =
        Transport.startMesh(EventLoops.Side.HANDLER, transport, observability, address, timeout);
    Mesh clientMesh =
        Transport.startMesh(EventLoops.Side.CALLER, transport, observability, address, timeout);
    serverMesh
        .register(server, message -> Mono.empty(), ServiceOptions.defaults().withMethods(methods))
        .block(timeout);
    clientMesh.router(server.serviceName()).views().filter(v -> v.size() == 1).blockFirst(timeout);
    return new MeshPair(nameServer, serverMesh, clientMesh);
  }

  /** Registers a calling instance on the client's mesh. */
  MeshService caller(ServiceUrl caller, Duration timeout) {
    return clientMesh.register(caller, message -> Mono.empty()).block(timeout);
  }

  /** Closes both meshes, then the name server. */
  void stop(Duration timeout) {
    try {
      clientMesh.close().block(timeout);
      serverMesh.close().block(timeout);
    } finally {
      nameServer.closeNow(timeout);
    }
  }

  /** One line about the pair. */
  String describe() {
    return "Skymesh: " + clientMesh.listenAddress() + " -> " + serverMesh.listenAddress();
  }

  /** The port the serving mesh listens on. */
  int serverPort() {
    String address = serverMesh.listenAddress();
    return Integer.parseInt(address.substring(address.lastIndexOf(':') + 1));
  }
}

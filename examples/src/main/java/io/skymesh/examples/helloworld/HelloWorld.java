package io.skymesh.examples.helloworld;

import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshBuilder;
import io.skymesh.nameserver.NameServer;
import io.skymesh.nameserver.NameServerBuilder;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.function.UnaryOperator;
import reactor.core.publisher.Flux;

/**
 * Runs helloworld.
 *
 * <ul>
 *   <li>{@code demo} (default): an embedded name server, a greeter mesh and a client mesh in one
 *       process, talking over loopback TCP.
 *   <li>{@code server NAMESERVER} and {@code client NAMESERVER [NAME...]}: the two sides as
 *       separate processes, against a standalone name server ({@code java -jar
 *       nameserver-reactive/target/nameserver.jar serve --port 9099}).
 * </ul>
 *
 * <p>{@link #runDemo(List, UnaryOperator, UnaryOperator)} runs the same demo with its name server
 * and meshes configured by the caller, for example over TLS: {@code NameServerBuilder.tls} on the
 * name server, {@code MeshBuilder.nameServerTls} and {@code MeshBuilder.peerTls} on each mesh.
 */
public final class HelloWorld {

  private static final Duration TIMEOUT = Duration.ofSeconds(30);

  private HelloWorld() {}

  /**
   * Runs the mode {@code args[0]}.
   *
   * @param args {@code demo}, {@code server host:port} or {@code client host:port [names]}
   */
  public static void main(String[] args) {
    String mode = args.length > 0 ? args[0] : "demo";
    switch (mode) {
      case "demo" -> runDemo(List.of("world", "mesh", "reactor")).forEach(System.out::println);
      case "server" -> {
        Mesh mesh = mesh(argument(args, 1)).closeOnShutdown(Duration.ofSeconds(5));
        GreeterServer.register(mesh, GreeterServer.URL).block(TIMEOUT);
        System.out.println(
            "Greeter " + GreeterServer.URL + " listening on " + mesh.listenAddress());
        mesh.router(GreeterServer.URL.serviceName()).views().blockLast();
      }
      case "client" -> {
        Mesh mesh = mesh(argument(args, 1));
        List<String> names =
            args.length > 2 ? List.of(args).subList(2, args.length) : List.of("world");
        GreeterClient.greet(mesh, GreeterServer.URL, Flux.fromIterable(names), TIMEOUT)
            .doOnNext(System.out::println)
            .then(mesh.closeGracefully(Duration.ofSeconds(5)))
            .block(TIMEOUT);
      }
      default ->
          throw new IllegalArgumentException(
              "mode: " + mode + " (expected: demo, server or client)");
    }
  }

  /**
   * The whole demo in one process: starts an embedded name server on a free loopback port, a
   * greeter and a client in two meshes, greets each name, and closes everything.
   *
   * @param names who to greet
   * @return the greeter's answers, in order
   */
  public static List<String> runDemo(List<String> names) {
    return runDemo(names, UnaryOperator.identity(), UnaryOperator.identity());
  }

  /**
   * The whole demo in one process, as {@link #runDemo(List)}, with the name server and each mesh
   * configured by the caller before they start: the way to run it over TLS.
   *
   * <pre>{@code
   * HelloWorld.runDemo(
   *     List.of("world"),
   *     nameServer -> nameServer.tls(serverContext),
   *     mesh -> mesh.nameServerTls(clientContext).peerTls(peerServerContext, peerClientContext));
   * }</pre>
   *
   * @param names who to greet
   * @param nameServer configures the name server's builder (already on a free loopback port)
   * @param meshes configures each mesh's builder (already pointed at the name server), once for the
   *     greeter's mesh, then once for the client's
   * @return the greeter's answers, in order
   * @throws RuntimeException (a {@code SkymeshException}) if a piece cannot start or a greeting
   *     fails, for example when the configurations do not agree on TLS
   */
  public static List<String> runDemo(
      List<String> names,
      UnaryOperator<NameServerBuilder> nameServer,
      UnaryOperator<MeshBuilder> meshes) {
    Objects.requireNonNull(names, "names");
    Objects.requireNonNull(nameServer, "nameServer");
    Objects.requireNonNull(meshes, "meshes");
    NameServer server = nameServer.apply(NameServer.builder().port(0)).start().block(TIMEOUT);
    String address = "127.0.0.1:" + server.port();
    Mesh greeter = null;
    Mesh client = null;
    try {
      greeter = meshes.apply(builder(address)).start().block(TIMEOUT);
      client = meshes.apply(builder(address)).start().block(TIMEOUT);
      GreeterServer.register(greeter, GreeterServer.URL).block(TIMEOUT);
      return GreeterClient.greet(client, GreeterServer.URL, Flux.fromIterable(names), TIMEOUT)
          .collectList()
          .block(TIMEOUT);
    } finally {
      try {
        if (client != null) {
          client.closeGracefully(Duration.ofSeconds(5)).block(TIMEOUT);
        }
        if (greeter != null) {
          greeter.closeGracefully(Duration.ofSeconds(5)).block(TIMEOUT);
        }
      } finally {
        server.closeNow(TIMEOUT);
      }
    }
  }

  private static MeshBuilder builder(String nameServer) {
    return Mesh.builder("hello").nameServer(nameServer);
  }

  private static Mesh mesh(String nameServer) {
    return builder(nameServer).start().block(TIMEOUT);
  }

  private static String argument(String[] args, int index) {
    if (args.length <= index) {
      throw new IllegalArgumentException("expected the name server's host:port after " + args[0]);
    }
    return args[index];
  }
}

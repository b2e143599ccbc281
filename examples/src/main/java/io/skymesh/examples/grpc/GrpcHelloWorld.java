package io.skymesh.examples.grpc;

import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ServerCredentials;
import io.skymesh.core.ServiceName;
import io.skymesh.examples.grpc.proto.GreeterGrpc;
import io.skymesh.examples.grpc.proto.HelloReply;
import io.skymesh.examples.grpc.proto.HelloRequest;
import io.skymesh.grpc.GrpcRegistration;
import io.skymesh.grpc.SkymeshNameResolverProvider;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshBuilder;
import io.skymesh.nameserver.NameServer;
import io.skymesh.nameserver.NameServerBuilder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

/**
 * Runs the gRPC helloworld.
 *
 * <ul>
 *   <li>{@code demo [CALLS]} (default): an embedded name server, two greeter servers registered in
 *       one mesh, and a client on {@code round_robin} in another, printing which server answered.
 *   <li>{@code server NAMESERVER ID} and {@code client NAMESERVER [CALLS]}: the sides as separate
 *       processes, against a standalone name server ({@code java -jar
 *       nameserver-reactive/target/nameserver.jar serve --port 9099}).
 * </ul>
 *
 * <p>The client's channel target is {@code skymesh:///hello.local.grpc-greeter}: addresses come
 * from the mesh's membership stream, never from DNS.
 *
 * <p>{@link #runDemo(int, Security)} runs the demo with the name server, the meshes, the gRPC
 * servers and the channel secured by the caller, for example all over TLS: the channel checks each
 * server's certificate against its authority, the service name {@code hello.local.grpc-greeter}.
 */
public final class GrpcHelloWorld {

  /** The greeter service. */
  public static final ServiceName GREETER = ServiceName.parse("hello.local.grpc-greeter");

  /** The client's channel target. */
  public static final String TARGET = SkymeshNameResolverProvider.SCHEME + ":///" + GREETER;

  private static final Duration TIMEOUT = Duration.ofSeconds(30);

  private GrpcHelloWorld() {}

  /**
   * Runs the mode {@code args[0]}.
   *
   * @param args {@code demo [calls]}, {@code server host:port id} or {@code client host:port
   *     [calls]}
   */
  public static void main(String[] args) {
    String mode = args.length > 0 ? args[0] : "demo";
    switch (mode) {
      case "demo" ->
          runDemo(args.length > 1 ? Integer.parseInt(args[1]) : 6).forEach(System.out::println);
      case "server" -> {
        Mesh mesh = mesh(argument(args, 1)).closeOnShutdown(Duration.ofSeconds(5));
        GrpcRegistration registration =
            GrpcGreeter.start(mesh, GREETER.instance(argument(args, 2))).block(TIMEOUT);
        System.out.println("gRPC greeter " + registration.url() + " at " + registration.address());
        mesh.router(GREETER).views().blockLast();
      }
      case "client" -> {
        Mesh mesh = mesh(argument(args, 1));
        ManagedChannel channel = channel(mesh);
        try {
          int calls = args.length > 2 ? Integer.parseInt(args[2]) : 6;
          for (int i = 0; i < calls; i++) {
            System.out.println(describe(greet(channel, "world")));
          }
        } finally {
          shutdown(channel);
          mesh.closeGracefully(Duration.ofSeconds(5)).block(TIMEOUT);
        }
      }
      default ->
          throw new IllegalArgumentException(
              "mode: " + mode + " (expected: demo, server or client)");
    }
  }

  /**
   * The whole demo in one process: an embedded name server on a free loopback port, two greeter
   * servers registered by one mesh, a round-robin client in another mesh making {@code calls}
   * calls, then everything closed.
   *
   * @param calls how many calls to make
   * @return one line per call, saying which server answered
   */
  public static List<String> runDemo(int calls) {
    return runDemo(calls, Security.PLAINTEXT);
  }

  /**
   * The whole demo in one process, as {@link #runDemo(int)}, with every piece secured by {@code
   * security}.
   *
   * @param calls how many calls to make
   * @param security what configures the name server and the meshes, and the credentials of the gRPC
   *     servers and channel
   * @return one line per call, saying which server answered
   */
  public static List<String> runDemo(int calls, Security security) {
    Objects.requireNonNull(security, "security");
    NameServer nameServer =
        security.nameServer().apply(NameServer.builder().port(0)).start().block(TIMEOUT);
    String address = "127.0.0.1:" + nameServer.port();
    Mesh servers = null;
    Mesh client = null;
    List<GrpcRegistration> registrations = new ArrayList<>();
    ManagedChannel channel = null;
    try {
      servers = mesh(address, security.meshes());
      client = mesh(address, security.meshes());
      for (String id : List.of("1", "2")) {
        registrations.add(
            GrpcGreeter.start(servers, GREETER.instance(id), security.server()).block(TIMEOUT));
      }
      channel = channel(client, security.channel());
      List<String> lines = new ArrayList<>();
      for (int i = 0; i < calls; i++) {
        lines.add(describe(greet(channel, "world")));
      }
      return lines;
    } finally {
      try {
        if (channel != null) {
          shutdown(channel);
        }
        for (GrpcRegistration registration : registrations) {
          registration.shutdown(Duration.ZERO).block(TIMEOUT);
        }
        if (client != null) {
          client.closeGracefully(Duration.ofSeconds(5)).block(TIMEOUT);
        }
        if (servers != null) {
          servers.closeGracefully(Duration.ofSeconds(5)).block(TIMEOUT);
        }
      } finally {
        nameServer.closeNow(TIMEOUT);
      }
    }
  }

  /**
   * What secures the demo's pieces.
   *
   * @param nameServer configures the name server's builder (already on a free loopback port)
   * @param meshes configures each mesh's builder (already pointed at the name server)
   * @param server the gRPC servers' credentials, for example {@code TlsServerCredentials}
   * @param channel the channel's credentials, for example {@code TlsChannelCredentials}
   */
  public record Security(
      UnaryOperator<NameServerBuilder> nameServer,
      UnaryOperator<MeshBuilder> meshes,
      ServerCredentials server,
      ChannelCredentials channel) {

    /** Nothing secured: the plain demo. */
    public static final Security PLAINTEXT =
        new Security(
            UnaryOperator.identity(),
            UnaryOperator.identity(),
            InsecureServerCredentials.create(),
            InsecureChannelCredentials.create());

    /** Checks that every part is given. */
    public Security {
      Objects.requireNonNull(nameServer, "nameServer");
      Objects.requireNonNull(meshes, "meshes");
      Objects.requireNonNull(server, "server");
      Objects.requireNonNull(channel, "channel");
    }
  }

  /**
   * A channel on {@link #TARGET} for {@code mesh}, balancing with gRPC's {@code round_robin}.
   *
   * @param mesh the mesh whose membership the channel follows
   * @return the channel
   */
  public static ManagedChannel channel(Mesh mesh) {
    return channel(mesh, InsecureChannelCredentials.create());
  }

  /**
   * A channel on {@link #TARGET} for {@code mesh} with {@code credentials}, balancing with gRPC's
   * {@code round_robin}. Over TLS the channel checks each server's certificate against its
   * authority, {@code hello.local.grpc-greeter}, not against the address it dials.
   *
   * @param mesh the mesh whose membership the channel follows
   * @param credentials the channel's transport security
   * @return the channel
   */
  public static ManagedChannel channel(Mesh mesh, ChannelCredentials credentials) {
    return Grpc.newChannelBuilder(TARGET, credentials)
        .setNameResolverArg(SkymeshNameResolverProvider.MESH, mesh)
        .defaultLoadBalancingPolicy("round_robin")
        .build();
  }

  /**
   * Greets once, blocking the calling thread (for {@code main} and tests).
   *
   * @param channel the channel
   * @param name who to greet
   * @return the reply
   */
  public static HelloReply greet(ManagedChannel channel, String name) {
    return GreeterGrpc.newBlockingStub(channel)
        .withDeadlineAfter(5, TimeUnit.SECONDS)
        .sayHello(HelloRequest.newBuilder().setName(name).build());
  }

  private static String describe(HelloReply reply) {
    return reply.getMessage() + " (answered by " + reply.getServer() + ")";
  }

  private static void shutdown(ManagedChannel channel) {
    channel.shutdown();
    try {
      channel.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static Mesh mesh(String nameServer) {
    return mesh(nameServer, UnaryOperator.identity());
  }

  private static Mesh mesh(String nameServer, UnaryOperator<MeshBuilder> configure) {
    return configure.apply(Mesh.builder("hello").nameServer(nameServer)).start().block(TIMEOUT);
  }

  private static String argument(String[] args, int index) {
    if (args.length <= index) {
      throw new IllegalArgumentException(
          "expected "
              + (index == 1 ? "the name server's host:port" : "a server id")
              + " after "
              + args[index - 1]);
    }
    return args[index];
  }
}

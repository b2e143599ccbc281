package io.skymesh.examples.grpc;

import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.skymesh.core.ServiceName;
import io.skymesh.examples.grpc.proto.GreeterGrpc;
import io.skymesh.examples.grpc.proto.HelloReply;
import io.skymesh.examples.grpc.proto.HelloRequest;
import io.skymesh.grpc.GrpcRegistration;
import io.skymesh.grpc.SkymeshNameResolverProvider;
import io.skymesh.mesh.Mesh;
import io.skymesh.nameserver.NameServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

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
    NameServer nameServer = NameServer.builder().port(0).start().block(TIMEOUT);
    String address = "127.0.0.1:" + nameServer.port();
    Mesh servers = mesh(address);
    Mesh client = mesh(address);
    List<GrpcRegistration> registrations = new ArrayList<>();
    ManagedChannel channel = null;
    try {
      registrations.add(GrpcGreeter.start(servers, GREETER.instance("1")).block(TIMEOUT));
      registrations.add(GrpcGreeter.start(servers, GREETER.instance("2")).block(TIMEOUT));
      channel = channel(client);
      List<String> lines = new ArrayList<>();
      for (int i = 0; i < calls; i++) {
        lines.add(describe(greet(channel, "world")));
      }
      return lines;
    } finally {
      if (channel != null) {
        shutdown(channel);
      }
      for (GrpcRegistration registration : registrations) {
        registration.shutdown(Duration.ZERO).block(TIMEOUT);
      }
      client.closeGracefully(Duration.ofSeconds(5)).block(TIMEOUT);
      servers.closeGracefully(Duration.ofSeconds(5)).block(TIMEOUT);
      nameServer.closeNow(TIMEOUT);
    }
  }

  /**
   * A channel on {@link #TARGET} for {@code mesh}, balancing with gRPC's {@code round_robin}.
   *
   * @param mesh the mesh whose membership the channel follows
   * @return the channel
   */
  public static ManagedChannel channel(Mesh mesh) {
    return Grpc.newChannelBuilder(TARGET, InsecureChannelCredentials.create())
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
    return Mesh.builder("hello").nameServer(nameServer).start().block(TIMEOUT);
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

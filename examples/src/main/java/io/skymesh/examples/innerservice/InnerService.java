package io.skymesh.examples.innerservice;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceUrl;
import io.skymesh.examples.innerservice.proto.HelloReply;
import io.skymesh.examples.innerservice.proto.HelloRequest;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.ServiceOptions;
import io.skymesh.mesh.rpc.ClientInterceptor;
import io.skymesh.mesh.rpc.Methods;
import io.skymesh.mesh.rpc.RequestOptions;
import io.skymesh.mesh.rpc.ServerInterceptor;
import io.skymesh.nameserver.NameServer;
import java.time.Duration;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Consumer;
import reactor.core.publisher.Mono;

/**
 * Skymesh's inner_service demo: a greeter answering {@code SayHello} (protobuf in, protobuf out)
 * and taking {@code Notify} notifications; a client that first notifies it, then asks it for a
 * greeting with a deadline. Both meshes time every call with an interceptor.
 *
 * <ul>
 *   <li>{@code demo [NAME]} (default): an embedded name server and both meshes in one process, over
 *       loopback TCP.
 *   <li>{@code server NAMESERVER} and {@code client NAMESERVER [NAME]}: the two sides as separate
 *       processes, against a standalone name server.
 * </ul>
 */
public final class InnerService {

  /** The greeter's ServiceUrl. */
  public static final ServiceUrl GREETER = ServiceUrl.parse("inner.local.greeter/1");

  /** The client's ServiceUrl. */
  public static final ServiceUrl CLIENT = ServiceUrl.parse("inner.local.client/1");

  /** The deadline of the {@code SayHello} request. */
  public static final Duration DEADLINE = Duration.ofSeconds(2);

  private static final Duration TIMEOUT = Duration.ofSeconds(30);

  private InnerService() {}

  /**
   * Runs the mode {@code args[0]}.
   *
   * @param args {@code demo [name]}, {@code server host:port} or {@code client host:port [name]}
   */
  public static void main(String[] args) {
    String mode = args.length > 0 ? args[0] : "demo";
    switch (mode) {
      case "demo" -> runDemo(args.length > 1 ? args[1] : "world").forEach(System.out::println);
      case "server" -> {
        Mesh mesh = serverMesh(argument(args, 1), System.out::println);
        mesh.closeOnShutdown(Duration.ofSeconds(5));
        registerGreeter(mesh, System.out::println).block(TIMEOUT);
        System.out.println("Greeter " + GREETER + " listening on " + mesh.listenAddress());
        mesh.router(GREETER.serviceName()).views().blockLast();
      }
      case "client" -> {
        Mesh mesh = clientMesh(argument(args, 1), System.out::println);
        String name = args.length > 2 ? args[2] : "world";
        mesh.register(CLIENT, message -> Mono.empty())
            .flatMap(client -> call(client, name, System.out::println))
            .then(mesh.closeGracefully(Duration.ofSeconds(5)))
            .block(TIMEOUT);
      }
      default ->
          throw new IllegalArgumentException(
              "mode: " + mode + " (expected: demo, server or client)");
    }
  }

  /**
   * The whole demo in one process: an embedded name server on a free loopback port, the greeter and
   * the client in two meshes; the client notifies, then requests with a deadline; then everything
   * closes.
   *
   * @param name who to greet
   * @return what happened, in order: the interceptors' timing lines carry the elapsed time
   */
  public static List<String> runDemo(String name) {
    Queue<String> lines = new ConcurrentLinkedQueue<>();
    NameServer nameServer = NameServer.builder().port(0).start().block(TIMEOUT);
    String address = "127.0.0.1:" + nameServer.port();
    Mesh server = serverMesh(address, lines::add);
    Mesh client = clientMesh(address, lines::add);
    try {
      registerGreeter(server, lines::add).block(TIMEOUT);
      client
          .register(CLIENT, message -> Mono.empty())
          .flatMap(self -> call(self, name, lines::add))
          .block(TIMEOUT);
      return List.copyOf(lines);
    } finally {
      client.closeGracefully(Duration.ofSeconds(5)).block(TIMEOUT);
      server.closeGracefully(Duration.ofSeconds(5)).block(TIMEOUT);
      nameServer.closeNow(TIMEOUT);
    }
  }

  /**
   * Registers the greeter: {@code SayHello} answers a {@link HelloReply}; {@code Notify} is meant
   * for notifications and only logs.
   *
   * @param mesh a mesh of appId {@code inner}
   * @param log where the greeter writes what it does
   * @return the registered greeter
   */
  public static Mono<MeshService> registerGreeter(Mesh mesh, Consumer<String> log) {
    Methods methods =
        Methods.builder()
            .add(
                "SayHello",
                HelloRequest.parser(),
                request ->
                    Mono.just(
                        HelloReply.newBuilder()
                            .setMessage("Hello, " + request.getName() + "!")
                            .build()))
            .add(
                "Notify",
                request -> {
                  log.accept("greeter notified: " + request.payload().toStringUtf8());
                  return Mono.empty();
                })
            .build();
    return mesh.register(
        GREETER, message -> Mono.empty(), ServiceOptions.defaults().withMethods(methods));
  }

  /**
   * The client's part: a notification, then {@code SayHello} with a deadline of {@link #DEADLINE}.
   *
   * @param client the calling service
   * @param name who to greet
   * @param log where the reply goes
   * @return completes after the reply
   */
  public static Mono<Void> call(MeshService client, String name, Consumer<String> log) {
    return client
        .notify(GREETER, "Notify", ByteString.copyFromUtf8(name + " is about to say hello"))
        .then(
            client.request(
                GREETER,
                "SayHello",
                HelloRequest.newBuilder().setName(name).build(),
                HelloReply.parser(),
                RequestOptions.defaults().withTimeout(DEADLINE)))
        .doOnNext(reply -> log.accept("client got: " + reply.getMessage()))
        .then();
  }

  /** Times every call a mesh's services make, into {@code log}. */
  static ClientInterceptor clientTiming(Consumer<String> log) {
    return (request, next) -> {
      long start = System.nanoTime();
      return timed(
          next.apply(request.withHeader("x-client-start-nanos", Long.toString(start))),
          signal ->
              log.accept(
                  "client timing: "
                      + request.method()
                      + " "
                      + signal
                      + " in "
                      + micros(start)
                      + " µs"));
    };
  }

  /** Times every call a mesh's services handle, into {@code log}. */
  static ServerInterceptor serverTiming(Consumer<String> log) {
    return (request, next) -> {
      long start = System.nanoTime();
      return timed(
          next.apply(request)
              .map(reply -> reply.withHeader("x-server-micros", Long.toString(micros(start)))),
          signal ->
              log.accept(
                  "server timing: "
                      + request.method()
                      + (request.oneWay() ? " (notification) " : " ")
                      + signal
                      + " in "
                      + micros(start)
                      + " µs"));
    };
  }

  /**
   * Tells {@code onEnd} how {@code call} ended (onComplete, onError or cancel) before the end
   * reaches the caller, so that the line is written by the time the caller sees the reply.
   */
  private static <T> Mono<T> timed(Mono<T> call, Consumer<String> onEnd) {
    return call.doOnSuccess(value -> onEnd.accept("onComplete"))
        .doOnError(error -> onEnd.accept("onError"))
        .doOnCancel(() -> onEnd.accept("cancel"));
  }

  private static long micros(long startNanos) {
    return (System.nanoTime() - startNanos) / 1000;
  }

  private static Mesh serverMesh(String nameServer, Consumer<String> log) {
    return Mesh.builder("inner")
        .nameServer(nameServer)
        .serverInterceptor(serverTiming(log))
        .start()
        .block(TIMEOUT);
  }

  private static Mesh clientMesh(String nameServer, Consumer<String> log) {
    return Mesh.builder("inner")
        .nameServer(nameServer)
        .clientInterceptor(clientTiming(log))
        .start()
        .block(TIMEOUT);
  }

  private static String argument(String[] args, int index) {
    if (args.length <= index) {
      throw new IllegalArgumentException("expected the name server's host:port after " + args[0]);
    }
    return args[index];
  }
}

package io.skymesh.examples;

import io.skymesh.examples.helloworld.HelloWorld;

/**
 * The entry point of {@code java -jar examples/target/examples.jar}: runs helloworld (an embedded
 * name server, a greeter and a client talking over loopback TCP), or the example named first.
 *
 * <ul>
 *   <li>no argument, or {@code helloworld [demo|server NS|client NS names...]}: helloworld
 *   <li>{@code name-router}: two servers publishing their received counts as attributes, and a
 *       client routing to them by round robin and by key hash
 *   <li>{@code election [LEADERS]}: two candidates and a watcher that tells each new leader to
 *       resign, so leadership flips
 *   <li>{@code kv-config [INCREMENTS]}: settings, a route table and a compare-and-set counter in
 *       the name server's KV config
 *   <li>{@code codec [frames]}: the frame codec's round trip over loopback
 *   <li>{@code grpc-helloworld [demo [CALLS]|server NS ID|client NS [CALLS]]}: gRPC greeters
 *       resolved through the mesh, called on {@code round_robin}
 *   <li>{@code inner-service [demo [NAME]|server NS|client NS [NAME]]}: request / response with a
 *       protobuf SayHello, timing interceptors, a notification and a deadline
 *   <li>{@code streams [COUNT]}: an endless price ticker read ten at a time, held back by its
 *       reader's demand, and a chat channel
 * </ul>
 *
 * <p>The Spring WebFlux example is an application of its own: {@code java -jar
 * examples/webflux/target/webflux.jar}.
 */
public final class Demo {

  private Demo() {}

  /**
   * Runs the demo.
   *
   * @param args the example's name, then its arguments
   */
  public static void main(String[] args) {
    String example = args.length > 0 ? args[0] : "helloworld";
    String[] rest =
        args.length > 1 ? java.util.Arrays.copyOfRange(args, 1, args.length) : new String[0];
    switch (example) {
      case "helloworld" -> HelloWorld.main(rest);
      case "name-router" -> io.skymesh.examples.namerouter.NameRouterDemo.main(rest);
      case "election" -> io.skymesh.examples.election.ElectionDemo.main(rest);
      case "kv-config" -> io.skymesh.examples.kvconfig.KvConfigDemo.main(rest);
      case "codec" -> io.skymesh.examples.codec.CodecRoundTrip.main(rest);
      case "grpc-helloworld" -> io.skymesh.examples.grpc.GrpcHelloWorld.main(rest);
      case "inner-service" -> io.skymesh.examples.innerservice.InnerService.main(rest);
      case "streams" -> io.skymesh.examples.streams.StreamsDemo.main(rest);
      default ->
          throw new IllegalArgumentException(
              "example: "
                  + example
                  + " (expected: helloworld, name-router, election, kv-config, inner-service,"
                  + " streams, codec or grpc-helloworld)");
    }
  }
}

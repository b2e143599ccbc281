package io.skymesh.examples.helloworld;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.MessageHandler;
import java.time.Duration;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/** The client: registers itself, greets the greeter with names, and collects the answers. */
public final class GreeterClient {

  /** The client's ServiceUrl in the demo. */
  public static final ServiceUrl URL = ServiceUrl.parse("hello.local.client/1");

  private GreeterClient() {}

  /**
   * Registers the client, sends each name to the greeter and returns the answers as they come.
   *
   * @param mesh a mesh of appId {@code hello}
   * @param greeter the greeter's ServiceUrl
   * @param names who to greet
   * @param timeout how long to wait for all the answers
   * @return the answers, one per name; the client's registration is closed when they end, with an
   *     error too (for example a greeter that cannot be reached)
   */
  public static Flux<String> greet(
      Mesh mesh, ServiceUrl greeter, Flux<String> names, Duration timeout) {
    Sinks.Many<String> answers = Sinks.many().unicast().onBackpressureBuffer();
    MessageHandler collect =
        message ->
            Mono.fromRunnable(
                () ->
                    answers.emitNext(
                        message.payload().toStringUtf8(),
                        Sinks.EmitFailureHandler.busyLooping(Duration.ofSeconds(1))));
    // The client's registration is closed however the greeting ends: answered, failed or
    // cancelled.
    return Flux.usingWhen(
        mesh.register(URL, collect),
        client ->
            names
                .collectList()
                .flatMapMany(
                    list ->
                        Flux.fromIterable(list)
                            .concatMap(
                                name -> client.sendTo(greeter, ByteString.copyFromUtf8(name)))
                            .thenMany(answers.asFlux().take(list.size())))
                .timeout(timeout),
        MeshService::close);
  }
}

package io.skymesh.examples.webflux;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.rpc.Methods;
import io.skymesh.mesh.rpc.Reply;
import io.skymesh.mesh.rpc.RequestOptions;
import io.skymesh.spring.boot.MeshEndpoint;
import io.skymesh.spring.boot.MeshEndpointRegistrar;
import java.time.Duration;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import reactor.core.publisher.Mono;

/**
 * The application's mesh services: a greeter answering {@value #SAY_HELLO} requests, and a gateway
 * the HTTP handlers make their mesh requests from.
 */
@Configuration(proxyBeanMethods = false)
public class Greetings {

  /** The greeter service. */
  public static final ServiceName GREETER = ServiceName.parse("hello.web.greeter");

  /** The gateway the HTTP handlers send from. */
  public static final ServiceUrl GATEWAY = ServiceUrl.parse("hello.web.gateway/1");

  /** The greeter's request method. */
  public static final String SAY_HELLO = "SayHello";

  private final ObjectProvider<MeshEndpointRegistrar> registrar;
  private final RequestOptions options;

  /**
   * Created by Spring.
   *
   * @param registrar the registrar, asked for the gateway's service when a call is made
   * @param timeout each request's deadline
   */
  public Greetings(
      ObjectProvider<MeshEndpointRegistrar> registrar,
      @Value("${skymesh.request-timeout:5s}") Duration timeout) {
    this.registrar = registrar;
    this.options = RequestOptions.defaults().withTimeout(timeout);
  }

  /**
   * The greeter: answers {@value #SAY_HELLO} "name" with "Hello, name! (from url)".
   *
   * @param instance the instance id, {@code greeter.instance} (default 1)
   * @return the endpoint
   */
  @Bean
  MeshEndpoint greeter(@Value("${greeter.instance:1}") String instance) {
    ServiceUrl url = GREETER.instance(instance);
    return MeshEndpoint.answering(url, methods(url));
  }

  /**
   * The greeter's methods; the remote greeter in the tests registers these too.
   *
   * @param self the greeter's ServiceUrl, named in its answers
   * @return the methods
   */
  public static Methods methods(ServiceUrl self) {
    return Methods.builder()
        .add(
            SAY_HELLO,
            request ->
                Mono.just(
                    Reply.of(
                        ByteString.copyFromUtf8(
                            "Hello, "
                                + request.payload().toStringUtf8()
                                + "! (from "
                                + self
                                + ")"))))
        .build();
  }

  /** The gateway: it only makes requests. */
  @Bean
  MeshEndpoint gateway() {
    return MeshEndpoint.of(GATEWAY, message -> Mono.empty());
  }

  /**
   * Asks {@code destination} to greet {@code name}, from the gateway.
   *
   * @param destination a greeter instance
   * @param name the name to greet
   * @return the reply; fails as {@code request} fails ({@code MeshTimeoutException} past the
   *     deadline, {@code ServiceNotFoundException} for a greeter that is gone...)
   */
  public Mono<String> call(ServiceUrl destination, String name) {
    return Mono.defer(
        () -> {
          MeshService gateway =
              registrar
                  .getObject()
                  .service(GATEWAY)
                  .orElseThrow(() -> new IllegalStateException("gateway: not registered"));
          return gateway
              .request(destination, SAY_HELLO, ByteString.copyFromUtf8(name), options)
              .map(reply -> reply.payload().toStringUtf8());
        });
  }
}

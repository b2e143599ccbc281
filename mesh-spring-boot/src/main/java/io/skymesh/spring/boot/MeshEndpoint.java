package io.skymesh.spring.boot;

import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.Message;
import io.skymesh.mesh.MessageHandler;
import io.skymesh.mesh.ServiceOptions;
import io.skymesh.mesh.rpc.Methods;
import java.util.Objects;
import reactor.core.publisher.Mono;

/**
 * One of the application's mesh services: declare it as a bean and the auto-configuration registers
 * it when the context starts and deregisters it when the context stops.
 *
 * <pre>{@code
 * @Bean
 * MeshEndpoint greeter() {
 *   return MeshEndpoint.replying(ServiceUrl.parse("hello.web.greeter/1"), (self, message) ->
 *       self.sendTo(message.source(), message.headers(), hello(message.payload())));
 * }
 * }</pre>
 *
 * @param url the instance's ServiceUrl; its appId must be {@code skymesh.app-id}
 * @param handler receives the instance's messages, with the instance itself to answer from
 * @param options weight and attributes
 */
public record MeshEndpoint(ServiceUrl url, Handler handler, ServiceOptions options) {

  /** Creates an endpoint. */
  public MeshEndpoint {
    Objects.requireNonNull(url, "url");
    Objects.requireNonNull(handler, "handler");
    Objects.requireNonNull(options, "options");
  }

  /**
   * An endpoint with default options whose handler does not need its own service.
   *
   * @param url the instance's ServiceUrl
   * @param handler its handler
   * @return the endpoint
   */
  public static MeshEndpoint of(ServiceUrl url, MessageHandler handler) {
    Objects.requireNonNull(handler, "handler");
    return new MeshEndpoint(url, new Plain(handler), ServiceOptions.defaults());
  }

  /**
   * An endpoint with default options whose handler answers through its own service.
   *
   * @param url the instance's ServiceUrl
   * @param handler its handler
   * @return the endpoint
   */
  public static MeshEndpoint replying(ServiceUrl url, Handler handler) {
    return new MeshEndpoint(url, handler, ServiceOptions.defaults());
  }

  /**
   * An endpoint that answers requests with {@code methods} and ignores fire-and-forget messages.
   *
   * @param url the instance's ServiceUrl
   * @param methods its request handlers
   * @return the endpoint
   */
  public static MeshEndpoint answering(ServiceUrl url, Methods methods) {
    return new MeshEndpoint(
        url, new Plain(message -> Mono.empty()), ServiceOptions.defaults().withMethods(methods));
  }

  /** A copy with these options. */
  public MeshEndpoint withOptions(ServiceOptions options) {
    return new MeshEndpoint(url, handler, options);
  }

  /**
   * Receives an endpoint's messages, as {@link MessageHandler} does (same threading contract: never
   * block), with the registered service to send from.
   */
  @FunctionalInterface
  public interface Handler {

    /**
     * Handles one message.
     *
     * @param self the endpoint's registered service
     * @param message the message
     * @return completes when handled
     */
    Mono<Void> handle(MeshService self, Message message);
  }

  /** A handler that does not use its service; registered as is, without a wrapper. */
  record Plain(MessageHandler handler) implements Handler {
    @Override
    public Mono<Void> handle(MeshService self, Message message) {
      return handler.handle(message);
    }
  }
}

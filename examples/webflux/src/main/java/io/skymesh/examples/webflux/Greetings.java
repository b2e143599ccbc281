package io.skymesh.examples.webflux;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.Message;
import io.skymesh.spring.boot.MeshEndpoint;
import io.skymesh.spring.boot.MeshEndpointRegistrar;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/**
 * The application's mesh services: a greeter, and a gateway the HTTP handlers call from.
 *
 * <p>The mesh's request/response API is not on this branch yet, so a call is a {@code sendTo}
 * carrying a correlation header, answered by a {@code sendTo} back to the gateway with the same
 * header; {@link #call} pairs them and times out after {@code timeout}.
 */
@Configuration(proxyBeanMethods = false)
public class Greetings {

  /** The greeter service. */
  public static final ServiceName GREETER = ServiceName.parse("hello.web.greeter");

  /** The gateway the HTTP handlers send from. */
  public static final ServiceUrl GATEWAY = ServiceUrl.parse("hello.web.gateway/1");

  /** The header pairing a reply with its call. */
  public static final String CORRELATION = "correlation-id";

  private final Map<String, Sinks.One<String>> pending = new ConcurrentHashMap<>();
  private final AtomicLong ids = new AtomicLong();
  private final ObjectProvider<MeshEndpointRegistrar> registrar;
  private final Duration timeout;

  /**
   * Created by Spring.
   *
   * @param registrar the registrar, asked for the gateway's service when a call is made
   * @param timeout how long a call waits for its reply
   */
  public Greetings(
      ObjectProvider<MeshEndpointRegistrar> registrar,
      @Value("${skymesh.request-timeout:5s}") Duration timeout) {
    this.registrar = registrar;
    this.timeout = timeout;
  }

  /**
   * The greeter: answers "name" with "Hello, name! (from url)" to the sender, with its headers.
   *
   * @param instance the instance id, {@code greeter.instance} (default 1)
   * @return the endpoint
   */
  @Bean
  MeshEndpoint greeter(@Value("${greeter.instance:1}") String instance) {
    return MeshEndpoint.replying(GREETER.instance(instance), Greetings::answer);
  }

  /**
   * Answers a greeting from {@code self}; the remote greeter in the tests is this same handler.
   *
   * @param self the greeter's service
   * @param message the greeting
   * @return completes when the answer is written
   */
  public static Mono<Void> answer(MeshService self, Message message) {
    String reply = "Hello, " + message.payload().toStringUtf8() + "! (from " + self.url() + ")";
    return self.sendTo(message.source(), message.headers(), ByteString.copyFromUtf8(reply));
  }

  /** The gateway: hands every reply to the call waiting for it. */
  @Bean
  MeshEndpoint gateway() {
    return MeshEndpoint.of(
        GATEWAY,
        message -> {
          Sinks.One<String> call = pending.remove(message.headers().getOrDefault(CORRELATION, ""));
          if (call != null) {
            call.tryEmitValue(message.payload().toStringUtf8());
          }
          return Mono.empty();
        });
  }

  /**
   * Sends {@code payload} to {@code destination} from the gateway and waits for the reply.
   *
   * @param destination a greeter instance
   * @param payload the name to greet
   * @return the reply; fails as {@code sendTo} fails, or with a {@code TimeoutException}
   */
  public Mono<String> call(ServiceUrl destination, String payload) {
    return Mono.defer(
        () -> {
          MeshService gateway =
              registrar
                  .getObject()
                  .service(GATEWAY)
                  .orElseThrow(() -> new IllegalStateException("gateway: not registered"));
          String id = Long.toString(ids.incrementAndGet());
          Sinks.One<String> reply = Sinks.one();
          pending.put(id, reply);
          return gateway
              .sendTo(destination, Map.of(CORRELATION, id), ByteString.copyFromUtf8(payload))
              .then(reply.asMono())
              .timeout(timeout)
              .doFinally(signal -> pending.remove(id));
        });
  }
}

package io.skymesh.mesh.rpc;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import reactor.core.publisher.Mono;

/**
 * The request methods a service answers, by name; given at registration with {@code
 * ServiceOptions.withMethods}. A request for a name not here is answered with {@code
 * UNIMPLEMENTED}. Immutable.
 *
 * <pre>{@code
 * Methods methods = Methods.builder()
 *     .add("SayHello", HelloRequest.parser(), req -> Mono.just(reply(req)))
 *     .addBlocking("Report", request -> Mono.fromCallable(() -> writeFile(request)))
 *     .build();
 * mesh.register(url, messageHandler, ServiceOptions.defaults().withMethods(methods));
 * }</pre>
 */
public final class Methods {

  private static final Methods NONE = new Methods(Map.of());

  private final Map<String, Definition> definitions;

  private Methods(Map<String, Definition> definitions) {
    this.definitions = Map.copyOf(definitions);
  }

  /** No methods: every request is answered with {@code UNIMPLEMENTED}. */
  public static Methods none() {
    return NONE;
  }

  /** A builder of methods. */
  public static Builder builder() {
    return new Builder();
  }

  /** The methods by name. */
  public Map<String, Definition> definitions() {
    return definitions;
  }

  @Override
  public String toString() {
    return "Methods" + definitions.keySet();
  }

  /**
   * One method.
   *
   * @param name the method name requests carry
   * @param handler answers its requests
   * @param blocking whether the handler may block: it then runs on a bounded elastic scheduler
   */
  public record Definition(String name, RequestHandler handler, boolean blocking) {

    /** Checks the parts. */
    public Definition {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(handler, "handler");
      if (name.isEmpty()) {
        throw new IllegalArgumentException("name: \"\" (expected: a method name)");
      }
    }
  }

  /** Collects methods; each name at most once. */
  public static final class Builder {

    private final Map<String, Definition> definitions = new LinkedHashMap<>();

    private Builder() {}

    /**
     * Adds a non-blocking method.
     *
     * @param method the method name
     * @param handler its handler
     * @return this builder
     * @throws IllegalArgumentException if the name is empty or already added
     */
    public Builder add(String method, RequestHandler handler) {
      return put(new Definition(method, handler, false));
    }

    /**
     * Adds a method whose handler may block: it is called, and its {@code Mono} subscribed, on
     * {@code Schedulers.boundedElastic()}, whose threads and queue are bounded, so the mesh's event
     * loops never wait for it.
     *
     * @param method the method name
     * @param handler its handler
     * @return this builder
     * @throws IllegalArgumentException if the name is empty or already added
     */
    public Builder addBlocking(String method, RequestHandler handler) {
      return put(new Definition(method, handler, true));
    }

    /**
     * Adds a non-blocking method taking and returning protobuf messages. A request payload that
     * does not parse is answered with {@code INVALID_ARGUMENT}; headers are not visible here (use
     * {@link #add(String, RequestHandler)} for them).
     *
     * @param method the method name
     * @param requestParser parses the request payload
     * @param handler its handler
     * @param <Q> the request message
     * @param <R> the reply message
     * @return this builder
     */
    public <Q, R extends MessageLite> Builder add(
        String method, Parser<Q> requestParser, Function<? super Q, Mono<R>> handler) {
      return add(method, typed(requestParser, handler));
    }

    /**
     * Adds a blocking method taking and returning protobuf messages, as {@link #addBlocking(String,
     * RequestHandler)}.
     *
     * @param method the method name
     * @param requestParser parses the request payload
     * @param handler its handler
     * @param <Q> the request message
     * @param <R> the reply message
     * @return this builder
     */
    public <Q, R extends MessageLite> Builder addBlocking(
        String method, Parser<Q> requestParser, Function<? super Q, Mono<R>> handler) {
      return addBlocking(method, typed(requestParser, handler));
    }

    /** The methods added so far. */
    public Methods build() {
      return new Methods(definitions);
    }

    private Builder put(Definition definition) {
      if (definitions.putIfAbsent(definition.name(), definition) != null) {
        throw new IllegalArgumentException(
            "method: " + definition.name() + " (expected: each name once)");
      }
      return this;
    }

    private static <Q, R extends MessageLite> RequestHandler typed(
        Parser<Q> parser, Function<? super Q, Mono<R>> handler) {
      Objects.requireNonNull(parser, "requestParser");
      Objects.requireNonNull(handler, "handler");
      return request -> {
        Q message;
        try {
          message = parser.parseFrom(request.payload());
        } catch (InvalidProtocolBufferException e) {
          return Mono.error(
              new IllegalArgumentException(
                  "the request of " + request.method() + " does not parse: " + e.getMessage(), e));
        }
        return handler.apply(message).map(Reply::of);
      };
    }
  }
}

package io.skymesh.mesh.rpc;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The methods a service answers, by name: request methods (one reply), stream methods (a stream of
 * replies) and channel methods (streams both ways); given at registration with {@code
 * ServiceOptions.withMethods}. A call for a name not here, or of another kind, is answered with
 * {@code UNIMPLEMENTED}. Immutable.
 *
 * <pre>{@code
 * Methods methods = Methods.builder()
 *     .add("SayHello", HelloRequest.parser(), req -> Mono.just(reply(req)))
 *     .addBlocking("Report", request -> Mono.fromCallable(() -> writeFile(request)))
 *     .addStream("Tail", request -> tail(request.payload()).map(Reply::of))
 *     .build();
 * mesh.register(url, messageHandler, ServiceOptions.defaults().withMethods(methods));
 * }</pre>
 */
public final class Methods {

  private static final Methods NONE = new Methods(Map.of(), Map.of(), Map.of());

  private final Map<String, Definition> definitions;
  private final Map<String, StreamDefinition> streams;
  private final Map<String, ChannelDefinition> channels;

  private Methods(
      Map<String, Definition> definitions,
      Map<String, StreamDefinition> streams,
      Map<String, ChannelDefinition> channels) {
    this.definitions = Map.copyOf(definitions);
    this.streams = Map.copyOf(streams);
    this.channels = Map.copyOf(channels);
  }

  /** No methods: every request is answered with {@code UNIMPLEMENTED}. */
  public static Methods none() {
    return NONE;
  }

  /** A builder of methods. */
  public static Builder builder() {
    return new Builder();
  }

  /** The request methods (one request, one reply) by name. */
  public Map<String, Definition> definitions() {
    return definitions;
  }

  /** The stream methods (one request, a stream of replies) by name. */
  public Map<String, StreamDefinition> streams() {
    return streams;
  }

  /** The channel methods (a stream of requests, a stream of replies) by name. */
  public Map<String, ChannelDefinition> channels() {
    return channels;
  }

  @Override
  public String toString() {
    return "Methods" + definitions.keySet() + streams.keySet() + channels.keySet();
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
      checkName(name);
      Objects.requireNonNull(handler, "handler");
    }
  }

  /**
   * One stream method: it answers a request with a stream of replies, produced no faster than the
   * caller asks for them. Its handler runs on the connection's event loop and must not block.
   *
   * @param name the method name requests carry
   * @param handler answers each request with its replies
   */
  public record StreamDefinition(String name, Function<IncomingRequest, Flux<Reply>> handler) {

    /** Checks the parts. */
    public StreamDefinition {
      checkName(name);
      Objects.requireNonNull(handler, "handler");
    }
  }

  /**
   * One channel method: a stream of requests in, a stream of replies out, each with its own flow
   * control. Every element of the inbound stream carries the open's source, destination, method and
   * timeout; the first one the open's headers, the others their own. Its handler runs on the
   * connection's event loop and must not block.
   *
   * @param name the method name requests carry
   * @param handler maps the inbound requests to the replies
   */
  public record ChannelDefinition(
      String name, Function<Flux<IncomingRequest>, Flux<Reply>> handler) {

    /** Checks the parts. */
    public ChannelDefinition {
      checkName(name);
      Objects.requireNonNull(handler, "handler");
    }
  }

  private static void checkName(String name) {
    Objects.requireNonNull(name, "name");
    if (name.isEmpty()) {
      throw new IllegalArgumentException("name: \"\" (expected: a method name)");
    }
  }

  /** Collects methods; each name at most once, whatever its kind. */
  public static final class Builder {

    private final Map<String, Definition> definitions = new LinkedHashMap<>();
    private final Map<String, StreamDefinition> streams = new LinkedHashMap<>();
    private final Map<String, ChannelDefinition> channels = new LinkedHashMap<>();

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

    /**
     * Adds a stream method: one request, a stream of replies. The caller's demand reaches the
     * returned {@code Flux} as requests, so it need not buffer; cancellation by the caller, its
     * deadline or its connection's close cancels it.
     *
     * <pre>{@code
     * .addStream("Tail", request -> lines(request.payload()).map(Reply::of))
     * }</pre>
     *
     * @param method the method name
     * @param handler its handler
     * @return this builder
     * @throws IllegalArgumentException if the name is empty or already added
     */
    public Builder addStream(String method, Function<IncomingRequest, Flux<Reply>> handler) {
      StreamDefinition definition = new StreamDefinition(method, handler);
      claim(method);
      streams.put(method, definition);
      return this;
    }

    /**
     * Adds a stream method taking a protobuf request and returning protobuf replies. A request
     * payload that does not parse is answered with {@code INVALID_ARGUMENT}.
     *
     * @param method the method name
     * @param requestParser parses the request payload
     * @param handler its handler
     * @param <Q> the request message
     * @param <R> the reply message
     * @return this builder
     */
    public <Q, R extends MessageLite> Builder addStream(
        String method, Parser<Q> requestParser, Function<? super Q, Flux<R>> handler) {
      Objects.requireNonNull(requestParser, "requestParser");
      Objects.requireNonNull(handler, "handler");
      return addStream(
          method,
          request -> {
            Q message;
            try {
              message = parse(requestParser, request);
            } catch (IllegalArgumentException e) {
              return Flux.error(e);
            }
            return handler.apply(message).map(Reply::of);
          });
    }

    /**
     * Adds a channel method: a stream of requests in, a stream of replies out. The handler's demand
     * on its inbound {@code Flux} travels to the caller as credit; the channel ends when the
     * returned {@code Flux} ends; cancelling the inbound {@code Flux} cancels the caller's upload.
     *
     * <pre>{@code
     * .addChannel("Echo", requests -> requests.map(request -> Reply.of(request.payload())))
     * }</pre>
     *
     * @param method the method name
     * @param handler its handler
     * @return this builder
     * @throws IllegalArgumentException if the name is empty or already added
     */
    public Builder addChannel(String method, Function<Flux<IncomingRequest>, Flux<Reply>> handler) {
      ChannelDefinition definition = new ChannelDefinition(method, handler);
      claim(method);
      channels.put(method, definition);
      return this;
    }

    /**
     * Adds a channel method taking protobuf requests and returning protobuf replies. An inbound
     * payload that does not parse errors the handler's inbound stream with {@code
     * IllegalArgumentException} ({@code INVALID_ARGUMENT} for the caller, unless the handler
     * recovers).
     *
     * @param method the method name
     * @param requestParser parses each request payload
     * @param handler its handler
     * @param <Q> the request message
     * @param <R> the reply message
     * @return this builder
     */
    public <Q, R extends MessageLite> Builder addChannel(
        String method, Parser<Q> requestParser, Function<Flux<Q>, Flux<R>> handler) {
      Objects.requireNonNull(requestParser, "requestParser");
      Objects.requireNonNull(handler, "handler");
      return addChannel(
          method,
          requests ->
              handler
                  .apply(
                      requests.handle(
                          (request, sink) -> {
                            try {
                              sink.next(parse(requestParser, request));
                            } catch (IllegalArgumentException e) {
                              sink.error(e);
                            }
                          }))
                  .map(Reply::of));
    }

    /** The methods added so far. */
    public Methods build() {
      return new Methods(definitions, streams, channels);
    }

    private Builder put(Definition definition) {
      claim(definition.name());
      definitions.put(definition.name(), definition);
      return this;
    }

    private void claim(String name) {
      if (definitions.containsKey(name)
          || streams.containsKey(name)
          || channels.containsKey(name)) {
        throw new IllegalArgumentException("method: " + name + " (expected: each name once)");
      }
    }

    private static <Q> Q parse(Parser<Q> parser, IncomingRequest request) {
      try {
        return parser.parseFrom(request.payload());
      } catch (InvalidProtocolBufferException e) {
        throw new IllegalArgumentException(
            "the request of " + request.method() + " does not parse: " + e.getMessage(), e);
      }
    }

    private static <Q, R extends MessageLite> RequestHandler typed(
        Parser<Q> parser, Function<? super Q, Mono<R>> handler) {
      Objects.requireNonNull(parser, "requestParser");
      Objects.requireNonNull(handler, "handler");
      return request -> {
        Q message;
        try {
          message = parse(parser, request);
        } catch (IllegalArgumentException e) {
          return Mono.error(e);
        }
        return handler.apply(message).map(Reply::of);
      };
    }
  }
}

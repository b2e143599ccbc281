package io.skymesh.mesh.internal.observation;

import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationRegistry;
import io.micrometer.observation.contextpropagation.ObservationThreadLocalAccessor;
import io.skymesh.core.exceptions.Statuses;
import io.skymesh.mesh.MessageHandler;
import io.skymesh.mesh.internal.rpc.RpcConfig;
import io.skymesh.mesh.observation.DefaultMeshClientObservationConvention;
import io.skymesh.mesh.observation.DefaultMeshServerObservationConvention;
import io.skymesh.mesh.observation.MeshCallKind;
import io.skymesh.mesh.observation.MeshReceiverContext;
import io.skymesh.mesh.observation.MeshSenderContext;
import io.skymesh.mesh.rpc.ClientInterceptor;
import io.skymesh.mesh.rpc.IncomingRequest;
import io.skymesh.mesh.rpc.OutgoingRequest;
import io.skymesh.mesh.rpc.Reply;
import io.skymesh.mesh.rpc.ServerInterceptor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import reactor.core.CorePublisher;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Flux;
import reactor.core.publisher.FluxOperator;
import reactor.core.publisher.Mono;
import reactor.core.publisher.MonoOperator;
import reactor.core.publisher.SignalType;
import reactor.util.context.ContextView;

/**
 * Observes a mesh's calls on both sides with Micrometer's {@link ObservationRegistry}: requests and
 * notifications as the outermost client and server interceptors, messages around the data plane's
 * send and the service's handler.
 *
 * <p>The caller's observation takes as parent the observation in the subscriber's Reactor context
 * ({@link ObservationThreadLocalAccessor#KEY}), else the registry's current one (a thread local),
 * and its propagator writes the trace context into the frame's headers. The receiver's observation
 * reads it from there and runs the handler's {@code Mono} with itself in the Reactor context, so a
 * call the handler makes continues the trace.
 *
 * <p>A mesh built with {@link ObservationRegistry#NOOP} gets none of this (see {@link #of}); a
 * registry that is a no-op when a call starts costs that call one check.
 */
public final class MeshObservations {

  private final ObservationRegistry registry;

  private MeshObservations(ObservationRegistry registry) {
    this.registry = registry;
  }

  /**
   * The observations of a mesh.
   *
   * @param registry the mesh's registry
   * @return {@code null} for {@link ObservationRegistry#NOOP}: nothing is observed, nothing wraps
   *     the paths
   */
  public static @Nullable MeshObservations of(ObservationRegistry registry) {
    return registry == ObservationRegistry.NOOP ? null : new MeshObservations(registry);
  }

  /**
   * The request settings with the observing interceptors outermost, so that the observation times
   * the application's interceptors too and they see the trace headers.
   *
   * @param rpc the settings as built
   * @return a copy with one more interceptor on each side
   */
  public RpcConfig instrument(RpcConfig rpc) {
    List<ClientInterceptor> clients = new ArrayList<>(rpc.clientInterceptors().size() + 1);
    clients.add(
        new ClientInterceptor() {
          @Override
          public Mono<Reply> intercept(
              OutgoingRequest request, Function<OutgoingRequest, Mono<Reply>> next) {
            return observeCall(request, next);
          }

          @Override
          public Flux<Reply> interceptStream(
              OutgoingRequest request, Function<OutgoingRequest, Flux<Reply>> next) {
            return observeStream(request, next);
          }
        });
    clients.addAll(rpc.clientInterceptors());
    List<ServerInterceptor> servers = new ArrayList<>(rpc.serverInterceptors().size() + 1);
    servers.add(
        new ServerInterceptor() {
          @Override
          public Mono<Reply> intercept(
              IncomingRequest request, Function<IncomingRequest, Mono<Reply>> next) {
            return observeHandler(request, next);
          }

          @Override
          public Flux<Reply> interceptStream(
              IncomingRequest request, Function<IncomingRequest, Flux<Reply>> next) {
            return observeStreamHandler(request, next);
          }
        });
    servers.addAll(rpc.serverInterceptors());
    return new RpcConfig(
        rpc.defaultTimeout(),
        rpc.maxInFlightPerPeer(),
        rpc.maxPendingPerPeer(),
        rpc.maxConcurrentHandlers(),
        rpc.streamWindow(),
        clients,
        servers,
        rpc.pooledPayloads());
  }

  /**
   * A sender that observes each message, its trace context in the message's headers.
   *
   * @param plain the data plane's send
   * @return the observing sender
   */
  public MessageSender sender(MessageSender plain) {
    return (source, destination, headers, payload, leaderTerm) ->
        Mono.deferContextual(
            context -> {
              if (registry.isNoop()) {
                return plain.send(source, destination, headers, payload, leaderTerm);
              }
              Map<String, String> carrier = new HashMap<>(headers);
              MeshSenderContext sender =
                  new MeshSenderContext(source, destination, null, MeshCallKind.SEND, carrier);
              Observation observation = start(sender, context);
              Mono<Void> send;
              try {
                send = plain.send(source, destination, carrier, payload, leaderTerm);
              } catch (RuntimeException e) {
                send = Mono.error(e);
              }
              return observe(send, observation, sender::status);
            });
  }

  /**
   * A handler that observes each message it handles and runs the inner handler with the observation
   * in scope and in its Reactor context.
   *
   * @param handler the service's handler
   * @return the observing handler
   */
  public MessageHandler handler(MessageHandler handler) {
    return message ->
        Mono.defer(
            () -> {
              if (registry.isNoop()) {
                return orEmpty(handler.handle(message));
              }
              MeshReceiverContext receiver =
                  new MeshReceiverContext(
                      message.source(),
                      message.destination(),
                      null,
                      MeshCallKind.SEND,
                      message.headers());
              Observation observation = serverObservation(receiver).start();
              Mono<Void> handled =
                  new Scoped<>(Mono.defer(() -> orEmpty(handler.handle(message))), observation);
              return observe(handled, observation, receiver::status)
                  .contextWrite(c -> c.put(ObservationThreadLocalAccessor.KEY, observation));
            });
  }

  private Mono<Reply> observeCall(
      OutgoingRequest request, Function<OutgoingRequest, Mono<Reply>> next) {
    return Mono.deferContextual(
        context -> {
          if (registry.isNoop()) {
            return next.apply(request);
          }
          Map<String, String> carrier = new HashMap<>(request.headers());
          MeshSenderContext sender =
              senderContext(
                  request, request.oneWay() ? MeshCallKind.NOTIFY : MeshCallKind.REQUEST, carrier);
          Observation observation = start(sender, context);
          // After the start: the propagator has written the trace context into the carrier.
          OutgoingRequest traced = request.withHeaders(carrier);
          Mono<Reply> reply = next.apply(traced).doOnNext(sender::setResponse);
          return observe(reply, observation, sender::status)
              .contextWrite(c -> c.put(ObservationThreadLocalAccessor.KEY, observation));
        });
  }

  private Mono<Reply> observeHandler(
      IncomingRequest request, Function<IncomingRequest, Mono<Reply>> next) {
    return Mono.defer(
        () -> {
          if (registry.isNoop()) {
            return next.apply(request);
          }
          MeshReceiverContext receiver =
              receiverContext(
                  request, request.oneWay() ? MeshCallKind.NOTIFY : MeshCallKind.REQUEST);
          Observation observation = serverObservation(receiver).start();
          Mono<Reply> reply =
              new Scoped<>(next.apply(request), observation).doOnNext(receiver::setResponse);
          return observe(reply, observation, receiver::status)
              .contextWrite(c -> c.put(ObservationThreadLocalAccessor.KEY, observation));
        });
  }

  /**
   * Observes a stream or channel from its subscription to its end, its trace context in the open's
   * headers; both show as kind {@code stream}.
   */
  private Flux<Reply> observeStream(
      OutgoingRequest request, Function<OutgoingRequest, Flux<Reply>> next) {
    return Flux.deferContextual(
        context -> {
          if (registry.isNoop()) {
            return next.apply(request);
          }
          Map<String, String> carrier = new HashMap<>(request.headers());
          MeshSenderContext sender = senderContext(request, MeshCallKind.STREAM, carrier);
          Observation observation = start(sender, context);
          // After the start: the propagator has written the trace context into the carrier.
          OutgoingRequest traced = request.withHeaders(carrier);
          return observe(next.apply(traced), observation, sender::status)
              .contextWrite(c -> c.put(ObservationThreadLocalAccessor.KEY, observation));
        });
  }

  private Flux<Reply> observeStreamHandler(
      IncomingRequest request, Function<IncomingRequest, Flux<Reply>> next) {
    return Flux.defer(
        () -> {
          if (registry.isNoop()) {
            return next.apply(request);
          }
          MeshReceiverContext receiver = receiverContext(request, MeshCallKind.STREAM);
          Observation observation = serverObservation(receiver).start();
          Flux<Reply> replies =
              new ScopedFlux<>(Flux.defer(() -> next.apply(request)), observation);
          return observe(replies, observation, receiver::status)
              .contextWrite(c -> c.put(ObservationThreadLocalAccessor.KEY, observation));
        });
  }

  private static MeshSenderContext senderContext(
      OutgoingRequest request, MeshCallKind kind, Map<String, String> carrier) {
    return new MeshSenderContext(
        request.source(), request.destination(), request.method(), kind, carrier);
  }

  private static MeshReceiverContext receiverContext(IncomingRequest request, MeshCallKind kind) {
    return new MeshReceiverContext(
        request.source(), request.destination(), request.method(), kind, request.headers());
  }

  private Observation start(MeshSenderContext sender, ContextView context) {
    Observation parent = context.getOrDefault(ObservationThreadLocalAccessor.KEY, null);
    if (parent == null) {
      parent = registry.getCurrentObservation();
    }
    return Observation.createNotStarted(
            null, DefaultMeshClientObservationConvention.INSTANCE, () -> sender, registry)
        .parentObservation(parent)
        .start();
  }

  private Observation serverObservation(MeshReceiverContext receiver) {
    // No parent: the tracer's receiving handler takes the caller's span from the headers.
    return Observation.createNotStarted(
        null, DefaultMeshServerObservationConvention.INSTANCE, () -> receiver, registry);
  }

  private static Mono<Void> orEmpty(@Nullable Mono<Void> handled) {
    return handled == null ? Mono.empty() : handled;
  }

  /**
   * Ends an observation with its call: the status ({@code OK}, the error's status code, {@code
   * CANCELLED}) and the error, then the stop, once.
   */
  private static <T> Mono<T> observe(
      Mono<T> call, Observation observation, Consumer<String> status) {
    String[] failed = {null};
    return call.doOnError(
            error -> {
              failed[0] = Statuses.toStatus(error).getCode().name();
              observation.error(error);
            })
        .doFinally(
            type -> {
              status.accept(
                  failed[0] != null ? failed[0] : type == SignalType.CANCEL ? "CANCELLED" : "OK");
              observation.stop();
            });
  }

  /** {@link #observe(Mono, Observation, Consumer)} for a stream. */
  private static <T> Flux<T> observe(
      Flux<T> stream, Observation observation, Consumer<String> status) {
    String[] failed = {null};
    return stream
        .doOnError(
            error -> {
              failed[0] = Statuses.toStatus(error).getCode().name();
              observation.error(error);
            })
        .doFinally(
            type -> {
              status.accept(
                  failed[0] != null ? failed[0] : type == SignalType.CANCEL ? "CANCELLED" : "OK");
              observation.stop();
            });
  }

  private static <T> void subscribeInScope(
      Observation observation,
      CorePublisher<? extends T> source,
      CoreSubscriber<? super T> actual) {
    Observation.Scope scope = observation.openScope();
    try {
      source.subscribe(actual);
    } finally {
      scope.close();
    }
  }

  /** Subscribes its source with the observation in scope, for the code a handler runs at once. */
  private static final class Scoped<T> extends MonoOperator<T, T> {
    private final Observation observation;

    Scoped(Mono<T> source, Observation observation) {
      super(source);
      this.observation = observation;
    }

    @Override
    public void subscribe(CoreSubscriber<? super T> actual) {
      subscribeInScope(observation, source, actual);
    }
  }

  /** {@link Scoped} for a stream handler: the code it runs at subscription sees the trace. */
  private static final class ScopedFlux<T> extends FluxOperator<T, T> {
    private final Observation observation;

    ScopedFlux(Flux<T> source, Observation observation) {
      super(source);
      this.observation = observation;
    }

    @Override
    public void subscribe(CoreSubscriber<? super T> actual) {
      subscribeInScope(observation, source, actual);
    }
  }
}

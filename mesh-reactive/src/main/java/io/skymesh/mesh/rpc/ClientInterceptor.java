package io.skymesh.mesh.rpc;

import java.util.function.Function;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Wraps every request a mesh's services make, as an operator around the call: it may change the
 * request (add headers: auth, trace context) before passing it to {@code next}, and transform the
 * reply {@code Mono} that comes back (timing, logging, error mapping). Configured on {@code
 * MeshBuilder.clientInterceptor}; the first one added is the outermost.
 *
 * <pre>{@code
 * ClientInterceptor timing = (request, next) -> {
 *   long start = System.nanoTime();
 *   return next.apply(request.withHeader("client", "lobby"))
 *       .doFinally(s -> log.info("{} took {} µs", request.method(), (System.nanoTime() - start) / 1000));
 * };
 * }</pre>
 *
 * <p>Streams and channels pass through {@link #interceptStream}, which by default lets them by.
 *
 * <p>Called at subscription, on the subscribing thread; must not block. For a {@code notify} the
 * reply {@code Mono} completes empty once the request is sent.
 */
@FunctionalInterface
public interface ClientInterceptor {

  /**
   * Intercepts one request.
   *
   * @param request the request as it would be sent
   * @param next the rest of the chain: the next interceptor, then the transport
   * @return the reply, usually {@code next.apply(request)} transformed
   */
  Mono<Reply> intercept(OutgoingRequest request, Function<OutgoingRequest, Mono<Reply>> next);

  /**
   * Intercepts the open of one stream or channel ({@code requestStream}, {@code requestChannel}).
   * For a channel, {@code request}'s payload is empty: the items follow as the server asks for
   * them, and its headers travel with the open. Default: passes the request on unchanged.
   *
   * @param request the open as it would be sent
   * @param next the rest of the chain: the next interceptor, then the transport
   * @return the replies, usually {@code next.apply(request)} transformed
   */
  default Flux<Reply> interceptStream(
      OutgoingRequest request, Function<OutgoingRequest, Flux<Reply>> next) {
    return next.apply(request);
  }
}

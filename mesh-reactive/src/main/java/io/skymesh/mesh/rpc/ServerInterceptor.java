package io.skymesh.mesh.rpc;

import java.util.function.Function;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Wraps every request a mesh's services handle, as an operator around the handler: it may check or
 * change the request (auth, trace context), answer it itself (a failed {@code Mono} becomes an
 * error status for the caller), or transform the reply (timing, response headers). Configured on
 * {@code MeshBuilder.serverInterceptor}; the first one added is the outermost. It also sees
 * requests for unknown methods, whose {@code next} fails with {@code UNIMPLEMENTED}.
 *
 * <pre>{@code
 * ServerInterceptor auth = (request, next) ->
 *     "secret".equals(request.headers().get("token"))
 *         ? next.apply(request)
 *         : Mono.error(Statuses.toException(StatusCode.UNAUTHENTICATED, "bad token"));
 * }</pre>
 *
 * <p>Streams and channels pass through {@link #interceptStream}, which by default lets them by.
 *
 * <p>Threading as {@link RequestHandler}: must not block.
 */
@FunctionalInterface
public interface ServerInterceptor {

  /**
   * Intercepts one request.
   *
   * @param request the request as it arrived
   * @param next the rest of the chain: the next interceptor, then the method's handler
   * @return the reply, usually {@code next.apply(request)} transformed
   */
  Mono<Reply> intercept(IncomingRequest request, Function<IncomingRequest, Mono<Reply>> next);

  /**
   * Intercepts one stream or channel as it opens. For a stream, {@code request} is its one request;
   * for a channel, the open (its headers, and the first item's payload if the caller had one), and
   * {@code next} runs the handler over every inbound item. Default: passes it on unchanged.
   *
   * @param request the open as it arrived
   * @param next the rest of the chain: the next interceptor, then the method's handler
   * @return the replies, usually {@code next.apply(request)} transformed
   */
  default Flux<Reply> interceptStream(
      IncomingRequest request, Function<IncomingRequest, Flux<Reply>> next) {
    return next.apply(request);
  }
}

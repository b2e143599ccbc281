package io.skymesh.mesh.rpc;

import reactor.core.publisher.Mono;

/**
 * Answers the requests for one method of a service.
 *
 * <p>Threading: called on the event loop of the connection the request came on (or the caller's
 * thread for a caller in the same process). It must not block: a handler that must block is
 * registered with {@link Methods.Builder#addBlocking}, which runs it on a bounded elastic
 * scheduler. Requests do not wait for each other: every request is subscribed as it arrives, up to
 * the service's limit of concurrent handlers.
 *
 * <p>The returned {@code Mono} is the reply: a value is sent as the reply, completion without a
 * value as an empty reply, an error as an error status ({@code Statuses.toStatus}: a {@code
 * SkymeshException}'s own code, {@code INVALID_ARGUMENT} for an {@code IllegalArgumentException},
 * {@code UNKNOWN} otherwise, always with the message). When the caller cancels, or the request's
 * deadline passes, the mesh cancels the subscription.
 */
@FunctionalInterface
public interface RequestHandler {

  /**
   * Handles one request.
   *
   * @param request the request
   * @return the reply
   */
  Mono<Reply> handle(IncomingRequest request);
}

package io.skymesh.mesh;

import io.skymesh.core.ServiceName;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The live membership of one service, as hot streams fed by the name server's watch. One router per
 * service per {@link Mesh}; {@code mesh.router(name)} returns the same one each time.
 *
 * <p>While the name server is unreachable the router keeps serving the last known view; when the
 * connection comes back it resumes from the last revision it saw.
 */
public interface NameRouter {

  /** The service this router follows. */
  ServiceName serviceName();

  /**
   * Membership changes. Hot: a late subscriber first gets an {@code ADDED} event for every current
   * member, then every change after that, in revision order, never duplicated. A subscriber that
   * falls more than a bounded number of events behind gets an {@code OverloadedException} instead
   * of unbounded buffering.
   *
   * @return the events
   */
  Flux<MembershipEvent> members();

  /**
   * The view after every change. Hot: a late subscriber gets the current view first; a slow
   * subscriber skips to the latest view (views are cumulative, so nothing is lost).
   *
   * @return the views
   */
  Flux<ServiceView> views();

  /**
   * The current view: empty until the name server's first answer arrives.
   *
   * @return the view now
   */
  ServiceView currentView();

  /**
   * The view once the name server's first answer has arrived.
   *
   * @return the first known view; fails with {@code MeshTimeoutException} if none arrives within
   *     the mesh's request timeout
   */
  Mono<ServiceView> firstView();
}

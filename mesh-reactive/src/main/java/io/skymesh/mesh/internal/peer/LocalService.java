package io.skymesh.mesh.internal.peer;

import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.Message;
import io.skymesh.mesh.Undelivered;
import reactor.core.publisher.Mono;

/** A service registered in this process, as the data plane delivers to it. */
public interface LocalService {

  /** The service's url. */
  ServiceUrl url();

  /** Whether it was closed: it takes no more messages or requests. */
  boolean isClosed();

  /**
   * Hands a message to the service's handler.
   *
   * @param message the message
   * @return completes when the handler's {@code Mono} has; see {@code MeshService.sendTo}
   */
  Mono<Void> deliver(Message message);

  /**
   * Takes a receiver's report that a message this service sent never reached a handler.
   *
   * @param report the report
   */
  void undelivered(Undelivered report);

  /** Its request side. */
  ServiceEndpoint endpoint();

  /**
   * Closes the service: deregisters it and ends its campaigns.
   *
   * @return completes once deregistered
   */
  Mono<Void> close();
}

package io.skymesh.nameserver.etcd.internal;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Supplier;
import reactor.core.publisher.Mono;

/** jetcd's futures as lazy {@link Mono}s. */
final class Rx {

  private Rx() {}

  /**
   * A Mono that makes the call on subscription; its signals arrive on jetcd's threads, so what
   * follows must not block.
   */
  static <T> Mono<T> call(Supplier<CompletableFuture<T>> call) {
    return Mono.fromFuture(call, true).onErrorMap(CompletionException.class, Rx::cause);
  }

  private static Throwable cause(CompletionException e) {
    return e.getCause() != null ? e.getCause() : e;
  }
}

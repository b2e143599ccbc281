package io.skymesh.mesh;

import reactor.core.publisher.Mono;

/**
 * Receives the messages sent to one {@link MeshService}.
 *
 * <p>Threading: called on the event loop of the connection the message came on (or the sender's
 * thread for a sender in the same process), one message at a time per connection. It must not
 * block; to block, return {@code Mono.fromRunnable(work).subscribeOn(Schedulers.boundedElastic())}.
 * The next message from the same connection is read only when the returned {@code Mono} completes,
 * so a slow handler slows its senders down instead of filling the heap.
 *
 * <p>With {@link MeshBuilder#pooledPayloads pooled payloads}, a message's payload is valid until
 * the returned {@code Mono} has ended: copy it to keep it longer.
 */
@FunctionalInterface
public interface MessageHandler {

  /**
   * Handles one message.
   *
   * @param message the message
   * @return completes when the message is handled; an error is logged and the next message comes
   */
  Mono<Void> handle(Message message);

  /** A handler for handlers that finish at once. */
  static MessageHandler of(java.util.function.Consumer<Message> consumer) {
    return message -> {
      consumer.accept(message);
      return Mono.empty();
    };
  }
}

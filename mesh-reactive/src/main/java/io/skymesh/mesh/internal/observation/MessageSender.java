package io.skymesh.mesh.internal.observation;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceUrl;
import java.util.Map;
import reactor.core.publisher.Mono;

/** Sends one message ({@code Data} frame): the data plane's {@code send}, observed or not. */
@FunctionalInterface
public interface MessageSender {

  /**
   * Sends a message.
   *
   * @param source the sender
   * @param destination the addressee
   * @param headers the message's headers
   * @param payload the payload
   * @param leaderTerm the leader term the sender routed by, or 0
   * @return completes when sent (or, in process, handled)
   */
  Mono<Void> send(
      ServiceUrl source,
      ServiceUrl destination,
      Map<String, String> headers,
      ByteString payload,
      long leaderTerm);
}

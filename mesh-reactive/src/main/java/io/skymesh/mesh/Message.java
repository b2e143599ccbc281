package io.skymesh.mesh;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceUrl;
import java.util.Map;
import java.util.Objects;

/**
 * A fire-and-forget message as its receiver's {@link MessageHandler} sees it.
 *
 * @param source the sending instance
 * @param destination the receiving instance
 * @param headers application metadata
 * @param payload the application payload; from another process with {@link
 *     MeshBuilder#pooledPayloads pooled payloads} on, valid only until the handler's {@code Mono}
 *     has ended
 */
public record Message(
    ServiceUrl source, ServiceUrl destination, Map<String, String> headers, ByteString payload) {

  /** Creates a message; {@code headers} is copied. */
  public Message {
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(destination, "destination");
    headers = Map.copyOf(headers);
    Objects.requireNonNull(payload, "payload");
  }
}

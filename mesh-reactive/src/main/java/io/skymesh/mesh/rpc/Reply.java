package io.skymesh.mesh.rpc;

import com.google.protobuf.ByteString;
import com.google.protobuf.MessageLite;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The successful answer to a request: the reply's payload and its headers (response metadata).
 * Errors do not travel as a {@code Reply}: a handler fails its {@code Mono} instead, and the caller
 * gets a typed exception.
 *
 * <pre>{@code
 * Reply.of(hello.toByteString()).withHeader("server-timing", "3ms")
 * }</pre>
 *
 * @param headers response metadata; keys are lower-case by convention
 * @param payload the serialized reply, opaque to the mesh
 */
public record Reply(Map<String, String> headers, ByteString payload) {

  private static final Reply EMPTY = new Reply(Map.of(), ByteString.EMPTY);

  /** Creates a reply; {@code headers} is copied. */
  public Reply {
    headers = Map.copyOf(headers);
    Objects.requireNonNull(payload, "payload");
  }

  /** A reply without headers. */
  public static Reply of(ByteString payload) {
    return new Reply(Map.of(), payload);
  }

  /** A reply without headers holding a serialized protobuf message. */
  public static Reply of(MessageLite message) {
    return new Reply(Map.of(), message.toByteString());
  }

  /** The reply with no payload and no headers. */
  public static Reply empty() {
    return EMPTY;
  }

  /** A copy with one more header, replacing one of the same key. */
  public Reply withHeader(String key, String value) {
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(value, "value");
    Map<String, String> copy = new HashMap<>(headers);
    copy.put(key, value);
    return new Reply(copy, payload);
  }

  /** A copy with these headers instead. */
  public Reply withHeaders(Map<String, String> headers) {
    return new Reply(headers, payload);
  }
}

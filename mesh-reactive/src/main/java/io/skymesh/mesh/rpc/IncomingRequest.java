package io.skymesh.mesh.rpc;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceUrl;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A request as its receiver's {@link RequestHandler} and {@link ServerInterceptor}s see it.
 *
 * @param source the calling instance
 * @param destination the called instance (the handler's own service)
 * @param method the method name
 * @param headers request metadata
 * @param payload the serialized request
 * @param timeout the time the caller still allowed when the request arrived; {@link Duration#ZERO}
 *     for none. The mesh stops the handler when it passes.
 * @param oneWay whether the caller expects no reply ({@code notify})
 */
public record IncomingRequest(
    ServiceUrl source,
    ServiceUrl destination,
    String method,
    Map<String, String> headers,
    ByteString payload,
    Duration timeout,
    boolean oneWay) {

  /** Creates a request; {@code headers} is copied. */
  public IncomingRequest {
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(destination, "destination");
    Objects.requireNonNull(method, "method");
    headers = Map.copyOf(headers);
    Objects.requireNonNull(payload, "payload");
    Objects.requireNonNull(timeout, "timeout");
  }

  /** A copy with one more header, replacing one of the same key (for interceptors). */
  public IncomingRequest withHeader(String key, String value) {
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(value, "value");
    Map<String, String> copy = new HashMap<>(headers);
    copy.put(key, value);
    return new IncomingRequest(source, destination, method, copy, payload, timeout, oneWay);
  }
}

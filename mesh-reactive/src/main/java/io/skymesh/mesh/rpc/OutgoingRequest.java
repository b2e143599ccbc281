package io.skymesh.mesh.rpc;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceUrl;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A request as the caller's {@link ClientInterceptor}s see it, before it is sent. An interceptor
 * passes it on, or a changed copy ({@link #withHeader}), to the next step.
 *
 * @param source the calling instance
 * @param destination the called instance
 * @param method the method name
 * @param headers request metadata
 * @param payload the serialized request
 * @param timeout how long the call may take, the mesh's default applied
 * @param oneWay whether this is a {@code notify} (its reply {@code Mono} completes empty)
 * @param leaderTerm the leader term the request was routed by ({@code RoutingPolicy.leader()}),
 *     which the receiver checks (fencing); 0 for a request not routed to a leader
 */
public record OutgoingRequest(
    ServiceUrl source,
    ServiceUrl destination,
    String method,
    Map<String, String> headers,
    ByteString payload,
    Duration timeout,
    boolean oneWay,
    long leaderTerm) {

  /**
   * A request not routed to a leader.
   *
   * @param source the calling instance
   * @param destination the called instance
   * @param method the method name
   * @param headers request metadata, copied
   * @param payload the serialized request
   * @param timeout how long the call may take
   * @param oneWay whether this is a {@code notify}
   */
  public OutgoingRequest(
      ServiceUrl source,
      ServiceUrl destination,
      String method,
      Map<String, String> headers,
      ByteString payload,
      Duration timeout,
      boolean oneWay) {
    this(source, destination, method, headers, payload, timeout, oneWay, 0);
  }

  /** Creates a request; {@code headers} is copied. */
  public OutgoingRequest {
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(destination, "destination");
    Objects.requireNonNull(method, "method");
    headers = Map.copyOf(headers);
    Objects.requireNonNull(payload, "payload");
    Objects.requireNonNull(timeout, "timeout");
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout: " + timeout + " (expected: > 0)");
    }
    if (leaderTerm < 0) {
      throw new IllegalArgumentException("leaderTerm: " + leaderTerm + " (expected: >= 0)");
    }
  }

  /** A copy with one more header, replacing one of the same key. */
  public OutgoingRequest withHeader(String key, String value) {
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(value, "value");
    Map<String, String> copy = new HashMap<>(headers);
    copy.put(key, value);
    return new OutgoingRequest(
        source, destination, method, copy, payload, timeout, oneWay, leaderTerm);
  }

  /** A copy with these headers instead; {@code headers} is copied. */
  public OutgoingRequest withHeaders(Map<String, String> headers) {
    return new OutgoingRequest(
        source, destination, method, headers, payload, timeout, oneWay, leaderTerm);
  }

  /** A copy with this timeout. */
  public OutgoingRequest withTimeout(Duration timeout) {
    return new OutgoingRequest(
        source, destination, method, headers, payload, timeout, oneWay, leaderTerm);
  }
}

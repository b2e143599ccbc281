package io.skymesh.mesh.rpc;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

/**
 * How one request is made: its timeout and its headers. Immutable; every {@code with} returns a
 * copy, so one configured value can be shared.
 *
 * <pre>{@code
 * RequestOptions.defaults().withTimeout(Duration.ofMillis(200)).withHeader("tenant", "7")
 * }</pre>
 *
 * @param timeout how long the caller waits, from subscription (queueing included); {@code null} for
 *     the mesh's default ({@code MeshBuilder.defaultRequestTimeout}). It travels on the wire, and
 *     the server stops the handler when it passes.
 * @param headers request metadata; keys are lower-case by convention
 */
public record RequestOptions(Duration timeout, Map<String, String> headers) {

  private static final RequestOptions DEFAULTS = new RequestOptions(null, Map.of());

  /** Creates options; {@code headers} is copied. */
  public RequestOptions {
    if (timeout != null && (timeout.isNegative() || timeout.isZero())) {
      throw new IllegalArgumentException("timeout: " + timeout + " (expected: > 0)");
    }
    headers = Map.copyOf(headers);
  }

  /** The mesh's default timeout, no headers. */
  public static RequestOptions defaults() {
    return DEFAULTS;
  }

  /** A copy with this timeout; {@code null} for the mesh's default. */
  public RequestOptions withTimeout(Duration timeout) {
    return new RequestOptions(timeout, headers);
  }

  /** A copy with these headers instead. */
  public RequestOptions withHeaders(Map<String, String> headers) {
    return new RequestOptions(timeout, headers);
  }

  /** A copy with one more header, replacing one of the same key. */
  public RequestOptions withHeader(String key, String value) {
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(value, "value");
    Map<String, String> copy = new HashMap<>(headers);
    copy.put(key, value);
    return new RequestOptions(timeout, copy);
  }
}

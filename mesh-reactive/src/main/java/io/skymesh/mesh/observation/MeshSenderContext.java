package io.skymesh.mesh.observation;

import io.micrometer.observation.transport.Kind;
import io.micrometer.observation.transport.RequestReplySenderContext;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.rpc.Reply;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The caller's side of one mesh call, as observation handlers and conventions see it. Its carrier
 * is the outgoing frame's headers: a tracer's propagator writes the trace context into it ({@code
 * traceparent} with W3C propagation) before the frame is built.
 *
 * <p>A request's span is a client span, a notification's and a message's a producer span.
 *
 * <p>Not thread-safe: one call's observation fills it as the call goes.
 */
public final class MeshSenderContext extends RequestReplySenderContext<Map<String, String>, Reply> {

  private final ServiceUrl source;
  private final ServiceUrl destination;
  private final @Nullable String method;
  private final MeshCallKind kind;
  private @Nullable String status;

  /**
   * Creates the context of one call.
   *
   * @param source the calling instance
   * @param destination the called instance
   * @param method the method, or {@code null} for a message ({@link MeshCallKind#SEND})
   * @param kind the kind of call
   * @param headers the headers the frame will carry: mutable, the propagator adds to it
   */
  public MeshSenderContext(
      ServiceUrl source,
      ServiceUrl destination,
      @Nullable String method,
      MeshCallKind kind,
      Map<String, String> headers) {
    super(
        (carrier, key, value) -> carrier.put(key, value),
        kind.answered() ? Kind.CLIENT : Kind.PRODUCER);
    this.source = Objects.requireNonNull(source, "source");
    this.destination = Objects.requireNonNull(destination, "destination");
    this.method = method;
    this.kind = Objects.requireNonNull(kind, "kind");
    setCarrier(Objects.requireNonNull(headers, "headers"));
    setRemoteServiceName(destination.serviceName().toString());
  }

  /** The calling instance. */
  public ServiceUrl source() {
    return source;
  }

  /** The called instance. */
  public ServiceUrl destination() {
    return destination;
  }

  /** The method, or {@code null} for a message. */
  public @Nullable String method() {
    return method;
  }

  /** The kind of call. */
  public MeshCallKind kind() {
    return kind;
  }

  /**
   * How the call ended: {@code OK}, the name of the error's status code ({@code NOT_FOUND}, {@code
   * DEADLINE_EXCEEDED}...), or {@code CANCELLED}; {@code null} while it runs.
   */
  public @Nullable String status() {
    return status;
  }

  /**
   * Sets how the call ended; the mesh calls it before the observation stops.
   *
   * @param status see {@link #status()}
   */
  public void status(String status) {
    this.status = Objects.requireNonNull(status, "status");
  }
}

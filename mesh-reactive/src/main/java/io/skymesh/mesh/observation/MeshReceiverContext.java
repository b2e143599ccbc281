package io.skymesh.mesh.observation;

import io.micrometer.observation.transport.Kind;
import io.micrometer.observation.transport.RequestReplyReceiverContext;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.rpc.Reply;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The receiver's side of one mesh call: a handler running for a request, a notification or a
 * message, as observation handlers and conventions see it. Its carrier is the frame's headers, from
 * which a tracer's propagator reads the caller's trace context.
 *
 * <p>A request's span is a server span, a notification's and a message's a consumer span.
 *
 * <p>Not thread-safe: one handler's observation fills it as the handler goes.
 */
public final class MeshReceiverContext
    extends RequestReplyReceiverContext<Map<String, String>, Reply> {

  private final ServiceUrl source;
  private final ServiceUrl destination;
  private final @Nullable String method;
  private final MeshCallKind kind;
  private @Nullable String status;

  /**
   * Creates the context of one handled call.
   *
   * @param source the calling instance
   * @param destination the called instance, whose handler runs
   * @param method the method, or {@code null} for a message ({@link MeshCallKind#SEND})
   * @param kind the kind of call
   * @param headers the headers the frame carried
   */
  public MeshReceiverContext(
      ServiceUrl source,
      ServiceUrl destination,
      @Nullable String method,
      MeshCallKind kind,
      Map<String, String> headers) {
    super(Map::get, kind.answered() ? Kind.SERVER : Kind.CONSUMER);
    this.source = Objects.requireNonNull(source, "source");
    this.destination = Objects.requireNonNull(destination, "destination");
    this.method = method;
    this.kind = Objects.requireNonNull(kind, "kind");
    setCarrier(Objects.requireNonNull(headers, "headers"));
    setRemoteServiceName(source.serviceName().toString());
  }

  /** The calling instance. */
  public ServiceUrl source() {
    return source;
  }

  /** The called instance, whose handler runs. */
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
   * How the handler ended: {@code OK}, the name of the error's status code as the caller hears it,
   * or {@code CANCELLED}; {@code null} while it runs.
   */
  public @Nullable String status() {
    return status;
  }

  /**
   * Sets how the handler ended; the mesh calls it before the observation stops.
   *
   * @param status see {@link #status()}
   */
  public void status(String status) {
    this.status = Objects.requireNonNull(status, "status");
  }
}

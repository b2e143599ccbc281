package io.skymesh.mesh.internal.transport;

import com.google.protobuf.ByteString;
import io.skymesh.proto.Header;
import io.skymesh.proto.Response;
import io.skymesh.proto.Status;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * A {@code Response} frame as it was received: what the generated {@code Response} holds, decoded
 * by hand ({@link PeerFrameDecoder}) without builders. The payload is its own array, or, with
 * pooled payloads, a view of an array leased from the event loop's pool ({@code pooledPayload})
 * that the receiver releases once the reply has been handed over ({@link #release}).
 *
 * @param streamId the id of the request it answers
 * @param status the outcome; the default instance (code {@code OK}) when the frame had none
 * @param headers the headers, in the order sent
 * @param payload the payload
 * @param pooledPayload the pooled array that {@code payload} is a view of, or null when the payload
 *     has an array of its own
 */
public record InboundResponse(
    long streamId,
    Status status,
    List<Header> headers,
    ByteString payload,
    @Nullable PooledPayload pooledPayload) {

  /**
   * The same response from its generated message.
   *
   * @param response the message
   * @return its fields
   */
  public static InboundResponse of(Response response) {
    return new InboundResponse(
        response.getStreamId(),
        response.getStatus(),
        response.getHeadersList(),
        response.getPayload(),
        null);
  }

  /** Releases the pooled array the payload is a view of, if it is one; once, by the receiver. */
  public void release() {
    if (pooledPayload != null) {
      pooledPayload.release();
    }
  }

  /** The same response as a generated message; for tests and tools, as it copies every field. */
  public Response toProto() {
    return Response.newBuilder()
        .setStreamId(streamId)
        .setStatus(status)
        .addAllHeaders(headers)
        .setPayload(payload)
        .build();
  }
}

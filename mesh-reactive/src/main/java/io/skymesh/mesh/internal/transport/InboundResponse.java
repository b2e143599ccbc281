package io.skymesh.mesh.internal.transport;

import com.google.protobuf.ByteString;
import io.skymesh.proto.Header;
import io.skymesh.proto.Response;
import io.skymesh.proto.Status;
import java.util.List;

/**
 * A {@code Response} frame as it was received: what the generated {@code Response} holds, decoded
 * by hand ({@link PeerFrameDecoder}) without builders, with the payload a view of the frame's
 * bytes.
 *
 * @param streamId the id of the request it answers
 * @param status the outcome; the default instance (code {@code OK}) when the frame had none
 * @param headers the headers, in the order sent
 * @param payload the payload
 */
public record InboundResponse(
    long streamId, Status status, List<Header> headers, ByteString payload) {

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
        response.getPayload());
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

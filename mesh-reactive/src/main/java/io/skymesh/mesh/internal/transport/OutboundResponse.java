package io.skymesh.mesh.internal.transport;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.WireFormat;
import io.skymesh.proto.PeerFrame;
import io.skymesh.proto.Status;
import java.io.IOException;
import java.util.Map;

/**
 * A {@code PeerFrame} holding a {@code Response}, written field by field: the same bytes as the
 * generated {@code PeerFrame.newBuilder().setResponse(...).build()} would write, without the
 * builders and messages. One object per response.
 */
public final class OutboundResponse extends OutboundFrame {

  private final long streamId;
  private final Status status;
  private final Map<String, String> headers;
  private final ByteString payload;
  private final int responseLength;
  private final int bodyLength;

  /**
   * A response frame.
   *
   * @param streamId the id of the request it answers
   * @param status the outcome; always written, as the generated code writes a status that is set
   * @param headers the reply's headers; empty for none
   * @param payload the reply's payload
   */
  public OutboundResponse(
      long streamId, Status status, Map<String, String> headers, ByteString payload) {
    this.streamId = streamId;
    this.status = status;
    this.headers = headers;
    this.payload = payload;
    int size = 0;
    if (streamId != 0) {
      size += CodedOutputStream.computeUInt64Size(1, streamId);
    }
    size += CodedOutputStream.computeMessageSize(2, status);
    size += OutboundHeaders.size(3, headers);
    if (!payload.isEmpty()) {
      size += CodedOutputStream.computeBytesSize(4, payload);
    }
    this.responseLength = size;
    this.bodyLength =
        CodedOutputStream.computeTagSize(PeerFrame.RESPONSE_FIELD_NUMBER)
            + CodedOutputStream.computeUInt32SizeNoTag(size)
            + size;
  }

  @Override
  public PeerFrame.BodyCase kind() {
    return PeerFrame.BodyCase.RESPONSE;
  }

  @Override
  public int bodyLength() {
    return bodyLength;
  }

  @Override
  public void writeBody(CodedOutputStream out) throws IOException {
    out.writeTag(PeerFrame.RESPONSE_FIELD_NUMBER, WireFormat.WIRETYPE_LENGTH_DELIMITED);
    out.writeUInt32NoTag(responseLength);
    if (streamId != 0) {
      out.writeUInt64(1, streamId);
    }
    out.writeMessage(2, status);
    OutboundHeaders.write(3, headers, out);
    if (!payload.isEmpty()) {
      out.writeBytes(4, payload);
    }
  }
}

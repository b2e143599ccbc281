package io.skymesh.mesh.internal.transport;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.WireFormat;
import io.skymesh.proto.PeerFrame;
import java.io.IOException;
import java.util.Map;

/**
 * A {@code PeerFrame} holding a {@code Data} message, written field by field: the same bytes as the
 * generated {@code PeerFrame.newBuilder().setData(...).build()} would write, without the builders
 * and messages. One object per message.
 */
public final class OutboundData extends OutboundFrame {

  private final ByteString source;
  private final ByteString destination;
  private final Map<String, String> headers;
  private final ByteString payload;
  private final long leaderTerm;
  private final int dataLength;
  private final int bodyLength;

  /**
   * A data frame.
   *
   * @param source the sender's url in UTF-8
   * @param destination the addressee's url in UTF-8
   * @param headers the message's headers; empty for none
   * @param payload the payload
   * @param leaderTerm the leader's term the sender routed by, 0 for none
   */
  public OutboundData(
      ByteString source,
      ByteString destination,
      Map<String, String> headers,
      ByteString payload,
      long leaderTerm) {
    this.source = source;
    this.destination = destination;
    this.headers = headers;
    this.payload = payload;
    this.leaderTerm = leaderTerm;
    int size = OutboundHeaders.size(3, headers);
    if (!source.isEmpty()) {
      size += CodedOutputStream.computeBytesSize(1, source);
    }
    if (!destination.isEmpty()) {
      size += CodedOutputStream.computeBytesSize(2, destination);
    }
    if (!payload.isEmpty()) {
      size += CodedOutputStream.computeBytesSize(4, payload);
    }
    if (leaderTerm != 0) {
      size += CodedOutputStream.computeUInt64Size(5, leaderTerm);
    }
    this.dataLength = size;
    this.bodyLength =
        CodedOutputStream.computeTagSize(PeerFrame.DATA_FIELD_NUMBER)
            + CodedOutputStream.computeUInt32SizeNoTag(size)
            + size;
  }

  @Override
  public PeerFrame.BodyCase kind() {
    return PeerFrame.BodyCase.DATA;
  }

  @Override
  public int bodyLength() {
    return bodyLength;
  }

  @Override
  public void writeBody(CodedOutputStream out) throws IOException {
    out.writeTag(PeerFrame.DATA_FIELD_NUMBER, WireFormat.WIRETYPE_LENGTH_DELIMITED);
    out.writeUInt32NoTag(dataLength);
    if (!source.isEmpty()) {
      out.writeBytes(1, source);
    }
    if (!destination.isEmpty()) {
      out.writeBytes(2, destination);
    }
    OutboundHeaders.write(3, headers, out);
    if (!payload.isEmpty()) {
      out.writeBytes(4, payload);
    }
    if (leaderTerm != 0) {
      out.writeUInt64(5, leaderTerm);
    }
  }
}

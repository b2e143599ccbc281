package io.skymesh.mesh.internal.transport;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.WireFormat;
import io.skymesh.proto.PeerFrame;
import java.io.IOException;
import java.util.Map;

/**
 * A {@code PeerFrame} holding a {@code Request}, written field by field: the same bytes as the
 * generated {@code PeerFrame.newBuilder().setRequest(...).build()} would write, without the
 * builders, the messages and their copies of the fields. One object per request.
 */
public final class OutboundRequest extends OutboundFrame {

  private final long streamId;
  private final ByteString source;
  private final ByteString destination;
  private final String method;
  private final Map<String, String> headers;
  private final ByteString payload;
  private final long timeoutMicros;
  private final boolean oneWay;
  private final long leaderTerm;
  private final int requestLength;
  private final int bodyLength;

  /**
   * A request frame.
   *
   * @param streamId the request's id on its connection, positive
   * @param source the caller's url in UTF-8
   * @param destination the callee's url in UTF-8
   * @param method the method's name
   * @param headers the request's headers; empty for none
   * @param payload the request's payload
   * @param timeoutMicros what is left of the deadline, 0 for none
   * @param oneWay whether no reply is wanted
   * @param leaderTerm the leader's term the caller routed by, 0 for none
   */
  public OutboundRequest(
      long streamId,
      ByteString source,
      ByteString destination,
      String method,
      Map<String, String> headers,
      ByteString payload,
      long timeoutMicros,
      boolean oneWay,
      long leaderTerm) {
    this.streamId = streamId;
    this.source = source;
    this.destination = destination;
    this.method = method;
    this.headers = headers;
    this.payload = payload;
    this.timeoutMicros = timeoutMicros;
    this.oneWay = oneWay;
    this.leaderTerm = leaderTerm;
    int size = 0;
    if (streamId != 0) {
      size += CodedOutputStream.computeUInt64Size(1, streamId);
    }
    if (!source.isEmpty()) {
      size += CodedOutputStream.computeBytesSize(2, source);
    }
    if (!destination.isEmpty()) {
      size += CodedOutputStream.computeBytesSize(3, destination);
    }
    if (!method.isEmpty()) {
      size += CodedOutputStream.computeStringSize(4, method);
    }
    size += OutboundHeaders.size(5, headers);
    if (!payload.isEmpty()) {
      size += CodedOutputStream.computeBytesSize(6, payload);
    }
    if (timeoutMicros != 0) {
      size += CodedOutputStream.computeUInt64Size(7, timeoutMicros);
    }
    if (oneWay) {
      size += CodedOutputStream.computeBoolSize(8, true);
    }
    if (leaderTerm != 0) {
      size += CodedOutputStream.computeUInt64Size(9, leaderTerm);
    }
    this.requestLength = size;
    this.bodyLength =
        CodedOutputStream.computeTagSize(PeerFrame.REQUEST_FIELD_NUMBER)
            + CodedOutputStream.computeUInt32SizeNoTag(size)
            + size;
  }

  /** The request's id on its connection. */
  public long streamId() {
    return streamId;
  }

  @Override
  public PeerFrame.BodyCase kind() {
    return PeerFrame.BodyCase.REQUEST;
  }

  @Override
  public int bodyLength() {
    return bodyLength;
  }

  @Override
  public void writeBody(CodedOutputStream out) throws IOException {
    out.writeTag(PeerFrame.REQUEST_FIELD_NUMBER, WireFormat.WIRETYPE_LENGTH_DELIMITED);
    out.writeUInt32NoTag(requestLength);
    if (streamId != 0) {
      out.writeUInt64(1, streamId);
    }
    if (!source.isEmpty()) {
      out.writeBytes(2, source);
    }
    if (!destination.isEmpty()) {
      out.writeBytes(3, destination);
    }
    if (!method.isEmpty()) {
      out.writeString(4, method);
    }
    OutboundHeaders.write(5, headers, out);
    if (!payload.isEmpty()) {
      out.writeBytes(6, payload);
    }
    if (timeoutMicros != 0) {
      out.writeUInt64(7, timeoutMicros);
    }
    if (oneWay) {
      out.writeBool(8, true);
    }
    if (leaderTerm != 0) {
      out.writeUInt64(9, leaderTerm);
    }
  }
}

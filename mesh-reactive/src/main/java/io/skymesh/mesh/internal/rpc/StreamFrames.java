package io.skymesh.mesh.internal.rpc;

import com.google.protobuf.ByteString;
import io.skymesh.codec.Headers;
import io.skymesh.proto.PeerFrame;
import io.skymesh.proto.Status;
import io.skymesh.proto.StreamCancel;
import io.skymesh.proto.StreamCredit;
import io.skymesh.proto.StreamEnd;
import io.skymesh.proto.StreamItem;
import java.util.Map;

/** Builders of the frames of a stream after its open, in either direction. */
final class StreamFrames {

  private static final Status OK =
      Status.newBuilder().setCode(io.skymesh.proto.StatusCode.OK).build();

  private StreamFrames() {}

  static PeerFrame item(
      long streamId, boolean toRequester, Map<String, String> headers, ByteString payload) {
    StreamItem.Builder item =
        StreamItem.newBuilder().setStreamId(streamId).setToRequester(toRequester);
    if (!headers.isEmpty()) {
      item.addAllHeaders(Headers.fromMap(headers));
    }
    if (!payload.isEmpty()) {
      item.setPayload(payload);
    }
    return PeerFrame.newBuilder().setStreamItem(item).build();
  }

  /** Credit frames carry at most {@code Integer.MAX_VALUE}; larger grants are clamped. */
  static PeerFrame credit(long streamId, boolean toRequester, long credit) {
    return PeerFrame.newBuilder()
        .setStreamCredit(
            StreamCredit.newBuilder()
                .setStreamId(streamId)
                .setToRequester(toRequester)
                .setCredit((int) Math.min(credit, Integer.MAX_VALUE)))
        .build();
  }

  static PeerFrame end(long streamId, boolean toRequester, Status status) {
    return PeerFrame.newBuilder()
        .setStreamEnd(
            StreamEnd.newBuilder()
                .setStreamId(streamId)
                .setToRequester(toRequester)
                .setStatus(status))
        .build();
  }

  static PeerFrame completed(long streamId, boolean toRequester) {
    return end(streamId, toRequester, OK);
  }

  static PeerFrame cancel(long streamId, boolean toRequester, String reason) {
    return PeerFrame.newBuilder()
        .setStreamCancel(
            StreamCancel.newBuilder()
                .setStreamId(streamId)
                .setToRequester(toRequester)
                .setReason(reason))
        .build();
  }
}

package io.skymesh.mesh.internal.transport;

import io.skymesh.codec.FrameException;
import io.skymesh.codec.FrameTooLargeException;
import io.skymesh.proto.GoAway;
import io.skymesh.proto.Hello;
import io.skymesh.proto.PeerFrame;
import io.skymesh.proto.PeerTicket;
import io.skymesh.proto.Ping;
import io.skymesh.proto.Pong;
import io.skymesh.proto.Status;
import io.skymesh.proto.StatusCode;
import io.skymesh.proto.TicketRenewal;

/** Factories for the frames the transport itself sends. */
final class PeerFrames {

  /** The peer protocol version this transport speaks. */
  static final int PROTOCOL_VERSION = 1;

  private PeerFrames() {}

  static PeerFrame hello(String processId, String listenAddress, String appId) {
    return PeerFrame.newBuilder()
        .setHello(
            Hello.newBuilder()
                .setProtocolVersion(PROTOCOL_VERSION)
                .setProcessId(processId)
                .setListenAddress(listenAddress)
                .setAppId(appId))
        .build();
  }

  static PeerFrame ticketRenewal(PeerTicket ticket) {
    return PeerFrame.newBuilder()
        .setTicketRenewal(TicketRenewal.newBuilder().setTicket(ticket))
        .build();
  }

  static PeerFrame goAway(StatusCode code, String message) {
    return goAway(code, message, 0);
  }

  /**
   * A GoAway; {@code lastStreamId} is the highest stream id of the receiver's requests that the
   * sender still answers.
   */
  static PeerFrame goAway(StatusCode code, String message, long lastStreamId) {
    return PeerFrame.newBuilder()
        .setGoAway(
            GoAway.newBuilder()
                .setStatus(Status.newBuilder().setCode(code).setMessage(message))
                .setLastStreamId(lastStreamId))
        .build();
  }

  static PeerFrame ping(long sequence, long sentNanos) {
    return PeerFrame.newBuilder()
        .setPing(Ping.newBuilder().setSequence(sequence).setSentNanos(sentNanos))
        .build();
  }

  static PeerFrame pong(Ping ping) {
    return PeerFrame.newBuilder()
        .setPong(
            Pong.newBuilder().setSequence(ping.getSequence()).setSentNanos(ping.getSentNanos()))
        .build();
  }

  /** The last words of a connection closed for a frame that could not be decoded. */
  static PeerFrame lastWords(FrameException error) {
    StatusCode code =
        error instanceof FrameTooLargeException
            ? StatusCode.RESOURCE_EXHAUSTED
            : StatusCode.DATA_LOSS;
    return goAway(code, String.valueOf(error.getMessage()));
  }
}

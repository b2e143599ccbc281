package io.skymesh.nameserver.internal;

import io.skymesh.codec.FrameException;
import io.skymesh.codec.FrameTooLargeException;
import io.skymesh.proto.Ack;
import io.skymesh.proto.Error;
import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.Status;
import io.skymesh.proto.StatusCode;

/** Builders of the frames the server answers with. */
final class Replies {

  private Replies() {}

  static NameServerFrame ack(long requestId, long revision) {
    return NameServerFrame.newBuilder()
        .setAck(Ack.newBuilder().setRequestId(requestId).setRevision(revision))
        .build();
  }

  static NameServerFrame ack(Ack.Builder ack) {
    return NameServerFrame.newBuilder().setAck(ack).build();
  }

  /**
   * The longest error message, in characters: messages quote at most a short prefix of a client's
   * input, and this cap keeps any that does not from making an answer too large to send.
   */
  static final int MAX_MESSAGE_LENGTH = 1024;

  static NameServerFrame error(long requestId, StatusCode code, String message) {
    if (message.length() > MAX_MESSAGE_LENGTH) {
      message =
          message.substring(0, MAX_MESSAGE_LENGTH)
              + "... ("
              + message.length()
              + " characters, cut)";
    }
    return NameServerFrame.newBuilder()
        .setError(
            Error.newBuilder()
                .setRequestId(requestId)
                .setStatus(Status.newBuilder().setCode(code).setMessage(message)))
        .build();
  }

  /** The last frame sent before closing a connection that broke the framing. */
  static NameServerFrame lastWords(FrameException error) {
    StatusCode code =
        error instanceof FrameTooLargeException
            ? StatusCode.RESOURCE_EXHAUSTED
            : StatusCode.DATA_LOSS;
    return error(0, code, error.getMessage());
  }
}

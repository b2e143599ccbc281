package io.skymesh.mesh.internal.transport;

import com.google.protobuf.ByteString;
import io.skymesh.proto.Header;
import io.skymesh.proto.Request;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * A {@code Request} frame as it was received: what the generated {@code Request} holds, decoded by
 * hand ({@link PeerFrameDecoder}) without builders, with the strings a connection repeats decoded
 * once per connection. The payload is its own array, or, with pooled payloads, a view of an array
 * leased from the event loop's pool ({@code pooledPayload}) that whoever ends the request releases
 * ({@link #release}).
 *
 * @param streamId the request's id on its connection
 * @param source the caller's url, as sent
 * @param destination the callee's url, as sent
 * @param method the method's name
 * @param headers the headers, in the order sent
 * @param payload the payload
 * @param timeoutMicros what was left of the caller's deadline when it sent the request; 0 for none
 * @param oneWay whether no reply is wanted
 * @param leaderTerm the leader's term the caller routed by; 0 for none
 * @param pooledPayload the pooled array that {@code payload} is a view of, or null when the payload
 *     has an array of its own
 */
public record InboundRequest(
    long streamId,
    String source,
    String destination,
    String method,
    List<Header> headers,
    ByteString payload,
    long timeoutMicros,
    boolean oneWay,
    long leaderTerm,
    @Nullable PooledPayload pooledPayload) {

  /**
   * The same request from its generated message.
   *
   * @param request the message
   * @return its fields
   */
  public static InboundRequest of(Request request) {
    return new InboundRequest(
        request.getStreamId(),
        request.getSource(),
        request.getDestination(),
        request.getMethod(),
        request.getHeadersList(),
        request.getPayload(),
        request.getTimeoutMicros(),
        request.getOneWay(),
        request.getLeaderTerm(),
        null);
  }

  /**
   * Releases the pooled array the payload is a view of, if it is one; once, by whoever ends the
   * call.
   */
  public void release() {
    if (pooledPayload != null) {
      pooledPayload.release();
    }
  }

  /** The same request as a generated message; for tests and tools, as it copies every field. */
  public Request toProto() {
    return Request.newBuilder()
        .setStreamId(streamId)
        .setSource(source)
        .setDestination(destination)
        .setMethod(method)
        .addAllHeaders(headers)
        .setPayload(payload)
        .setTimeoutMicros(timeoutMicros)
        .setOneWay(oneWay)
        .setLeaderTerm(leaderTerm)
        .build();
  }
}

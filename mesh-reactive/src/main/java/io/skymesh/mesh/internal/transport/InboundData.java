package io.skymesh.mesh.internal.transport;

import com.google.protobuf.ByteString;
import io.skymesh.proto.Data;
import io.skymesh.proto.Header;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * A {@code Data} frame as it was received: what the generated {@code Data} holds, decoded by hand
 * ({@link PeerFrameDecoder}) without builders. The payload is its own array, or, with pooled
 * payloads, a view of an array leased from the event loop's pool ({@code pooledPayload}) that
 * whoever ends the message releases ({@link #release}).
 *
 * @param source the sender's url, as sent
 * @param destination the addressee's url, as sent
 * @param headers the headers, in the order sent
 * @param payload the payload
 * @param leaderTerm the leader's term the sender routed by; 0 for none
 * @param pooledPayload the pooled array that {@code payload} is a view of, or null when the payload
 *     has an array of its own
 */
public record InboundData(
    String source,
    String destination,
    List<Header> headers,
    ByteString payload,
    long leaderTerm,
    @Nullable PooledPayload pooledPayload) {

  /**
   * The same message from its generated form.
   *
   * @param data the message
   * @return its fields
   */
  public static InboundData of(Data data) {
    return new InboundData(
        data.getSource(),
        data.getDestination(),
        data.getHeadersList(),
        data.getPayload(),
        data.getLeaderTerm(),
        null);
  }

  /**
   * Releases the pooled array the payload is a view of, if it is one; once, by whoever ends the
   * message.
   */
  public void release() {
    if (pooledPayload != null) {
      pooledPayload.release();
    }
  }

  /** The same message in its generated form; for tests and tools, as it copies every field. */
  public Data toProto() {
    return Data.newBuilder()
        .setSource(source)
        .setDestination(destination)
        .addAllHeaders(headers)
        .setPayload(payload)
        .setLeaderTerm(leaderTerm)
        .build();
  }
}

package io.skymesh.mesh.internal.peer;

import io.skymesh.mesh.internal.transport.InboundRequest;
import io.skymesh.mesh.internal.transport.InboundResponse;
import io.skymesh.mesh.internal.transport.PeerConnection;
import io.skymesh.proto.Cancel;
import io.skymesh.proto.GoAway;
import io.skymesh.proto.PeerFrame;
import reactor.core.publisher.Mono;

/**
 * The request / response layer as the data plane sees it: where the inbound switch hands the frames
 * of calls, and what it asks before it releases a departed peer's connection.
 */
public interface RequestFrames {

  /** A layer that has no calls: refuses nothing, waits for nothing. */
  RequestFrames NONE =
      new RequestFrames() {
        @Override
        public Mono<Void> onRequest(InboundRequest request, PeerConnection connection) {
          return Mono.empty();
        }

        @Override
        public Mono<Void> onResponse(InboundResponse response, PeerConnection connection) {
          return Mono.empty();
        }

        @Override
        public Mono<Void> onCancel(Cancel cancel, PeerConnection connection) {
          return Mono.empty();
        }

        @Override
        public Mono<Void> onGoAway(GoAway goAway, PeerConnection connection) {
          return Mono.empty();
        }

        @Override
        public Mono<Void> onStream(PeerFrame frame, PeerConnection connection) {
          return Mono.empty();
        }

        @Override
        public Mono<Void> idle(String address) {
          return Mono.empty();
        }

        @Override
        public void forget(String address) {}
      };

  /**
   * A {@code Request} from a peer.
   *
   * @param request the request
   * @param connection where it came from
   * @return completes when the connection may read its next frame
   */
  Mono<Void> onRequest(InboundRequest request, PeerConnection connection);

  /**
   * A {@code Response} to a call of this process.
   *
   * @param response the response
   * @param connection where it came from
   * @return completes when the connection may read its next frame
   */
  Mono<Void> onResponse(InboundResponse response, PeerConnection connection);

  /**
   * A {@code Cancel} of a call the peer made.
   *
   * @param cancel the cancel
   * @param connection where it came from
   * @return completes when the connection may read its next frame
   */
  Mono<Void> onCancel(Cancel cancel, PeerConnection connection);

  /**
   * The peer's {@code GoAway}: calls above its last stream id were refused.
   *
   * @param goAway the frame
   * @param connection where it came from
   * @return completes when the connection may read its next frame
   */
  Mono<Void> onGoAway(GoAway goAway, PeerConnection connection);

  /**
   * A frame of a stream: {@code StreamOpen}, {@code StreamItem}, {@code StreamCredit}, {@code
   * StreamEnd} or {@code StreamCancel}, of a stream either side opened.
   *
   * @param frame the frame
   * @param connection where it came from
   * @return completes when the connection may read its next frame
   */
  Mono<Void> onStream(PeerFrame frame, PeerConnection connection);

  /**
   * Completes once no call or stream to {@code address} is waiting for its answer.
   *
   * @param address a peer's listen address
   * @return completes when idle
   */
  Mono<Void> idle(String address);

  /**
   * Forgets what the layer keeps per peer (its limiter) for a process that left.
   *
   * @param address the peer's listen address
   */
  void forget(String address);
}

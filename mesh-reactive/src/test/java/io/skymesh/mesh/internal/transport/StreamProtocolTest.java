package io.skymesh.mesh.internal.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.ServiceOptions;
import io.skymesh.mesh.TestMeshes;
import io.skymesh.mesh.rpc.Methods;
import io.skymesh.mesh.rpc.Reply;
import io.skymesh.proto.PeerFrame;
import io.skymesh.proto.StatusCode;
import io.skymesh.proto.StreamCredit;
import io.skymesh.proto.StreamItem;
import io.skymesh.proto.StreamOpen;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The stream frames as a peer that writes them by hand sees them: items beyond the credit are a
 * protocol error on that stream only, and a responder sends no more replies than it was granted.
 */
class StreamProtocolTest {

  private static final ServiceUrl SERVER = ServiceUrl.parse("game.zone1.streams/1");
  private static final String CLIENT = "game.zone1.client/1";

  private final TestMeshes meshes = TestMeshes.withNameServer();
  private RawPeer peer;

  @AfterEach
  void close() {
    if (peer != null) {
      peer.connection().disposeNow();
    }
    meshes.close();
  }

  private void connect() {
    Mesh mesh = meshes.mesh();
    Methods methods =
        Methods.builder()
            // Never asks for its requests: only the one that came with the open was granted.
            .addChannel("Deaf", requests -> Flux.never())
            .addStream(
                "Count",
                request -> Flux.range(1, 1000).map(i -> Reply.of(ByteString.copyFromUtf8("" + i))))
            .add("Echo", request -> Mono.just(Reply.of(request.payload())))
            .build();
    mesh.register(SERVER, message -> Mono.empty(), ServiceOptions.defaults().withMethods(methods))
        .block(TestMeshes.DEADLINE);
    peer = RawPeer.connect(mesh.listenAddress());
    peer.send(PeerFrame.newBuilder().setHello(RawPeer.hello("raw", "game")).build());
  }

  @Test
  void requestsBeyondTheCreditEndThatStreamAndTheConnectionGoesOn() {
    connect();
    peer.send(open(1, "Deaf", true, 0));
    peer.send(item(1, "beyond the credit"));
    peer.send(RawPeer.request(2, CLIENT, SERVER.toString(), "Echo", List.of(), bytes("still")));
    peer.send(open(3, "Count", false, 5));

    await()
        .atMost(TestMeshes.DEADLINE)
        .until(
            () ->
                peer.frames.stream().anyMatch(PeerFrame::hasStreamEnd)
                    && peer.frames.stream().anyMatch(PeerFrame::hasResponse)
                    && peer.frames.stream().filter(PeerFrame::hasStreamItem).count() == 5);
    assertThat(peer.frames)
        .filteredOn(PeerFrame::hasStreamEnd)
        .extracting(
            f -> f.getStreamEnd().getStreamId(),
            f -> f.getStreamEnd().getToRequester(),
            f -> f.getStreamEnd().getStatus().getCode())
        .containsExactly(tuple(1L, true, StatusCode.RESOURCE_EXHAUSTED));
    assertThat(peer.frames)
        .filteredOn(PeerFrame::hasStreamEnd)
        .singleElement()
        .satisfies(
            f ->
                assertThat(f.getStreamEnd().getStatus().getMessage())
                    .contains("more requests than the 1 granted"));
    assertThat(peer.frames)
        .filteredOn(PeerFrame::hasResponse)
        .extracting(f -> f.getResponse().getStreamId(), f -> f.getResponse().getPayload())
        .containsExactly(tuple(2L, bytes("still")));
    // The server stream went on within its credit of 5, and waits for more.
    assertThat(peer.frames)
        .filteredOn(PeerFrame::hasStreamItem)
        .extracting(f -> f.getStreamItem().getPayload().toStringUtf8())
        .containsExactly("1", "2", "3", "4", "5");
    assertThat(peer.connection().isDisposed()).isFalse();

    peer.send(credit(3, 995));
    await()
        .atMost(TestMeshes.DEADLINE)
        .until(
            () ->
                peer.frames.stream()
                    .anyMatch(f -> f.hasStreamEnd() && f.getStreamEnd().getStreamId() == 3));
    assertThat(peer.frames.stream().filter(PeerFrame::hasStreamItem).count()).isEqualTo(1000);
    assertThat(peer.frames)
        .filteredOn(f -> f.hasStreamEnd() && f.getStreamEnd().getStreamId() == 3)
        .singleElement()
        .satisfies(
            f -> assertThat(f.getStreamEnd().getStatus().getCode()).isEqualTo(StatusCode.OK));
  }

  @Test
  void aCreditOfZeroEndsTheStreamAndAHugeOneIsUnsigned() {
    connect();
    peer.send(open(1, "Count", false, 0));
    peer.send(credit(1, 0));
    // 2^32 - 1 on the wire: read as an unsigned count, not as -1.
    peer.send(open(3, "Count", false, -1));

    await()
        .atMost(TestMeshes.DEADLINE)
        .until(() -> peer.frames.stream().filter(PeerFrame::hasStreamEnd).count() == 2);
    assertThat(peer.frames)
        .filteredOn(PeerFrame::hasStreamEnd)
        .extracting(
            f -> f.getStreamEnd().getStreamId(), f -> f.getStreamEnd().getStatus().getCode())
        .containsExactlyInAnyOrder(
            tuple(1L, StatusCode.INVALID_ARGUMENT), tuple(3L, StatusCode.OK));
    assertThat(peer.frames.stream().filter(PeerFrame::hasStreamItem).count()).isEqualTo(1000);
  }

  @Test
  void aStreamIdStillOpenCannotBeReused() {
    connect();
    peer.send(open(1, "Deaf", true, 0));
    peer.send(open(1, "Count", false, 1));

    await()
        .atMost(TestMeshes.DEADLINE)
        .until(() -> peer.frames.stream().anyMatch(PeerFrame::hasStreamEnd));
    assertThat(peer.frames)
        .filteredOn(PeerFrame::hasStreamEnd)
        .singleElement()
        .satisfies(
            f -> {
              assertThat(f.getStreamEnd().getStatus().getCode())
                  .isEqualTo(StatusCode.FAILED_PRECONDITION);
              assertThat(f.getStreamEnd().getStatus().getMessage()).contains("still in flight");
            });
  }

  private static PeerFrame open(long id, String method, boolean channel, int credit) {
    return PeerFrame.newBuilder()
        .setStreamOpen(
            StreamOpen.newBuilder()
                .setStreamId(id)
                .setSource(CLIENT)
                .setDestination(SERVER.toString())
                .setMethod(method)
                .setChannel(channel)
                .setHasPayload(true)
                .setPayload(bytes("first"))
                .setInitialCredit(credit))
        .build();
  }

  private static PeerFrame item(long id, String payload) {
    return PeerFrame.newBuilder()
        .setStreamItem(StreamItem.newBuilder().setStreamId(id).setPayload(bytes(payload)))
        .build();
  }

  private static PeerFrame credit(long id, int credit) {
    return PeerFrame.newBuilder()
        .setStreamCredit(StreamCredit.newBuilder().setStreamId(id).setCredit(credit))
        .build();
  }

  private static ByteString bytes(String text) {
    return ByteString.copyFromUtf8(text);
  }
}

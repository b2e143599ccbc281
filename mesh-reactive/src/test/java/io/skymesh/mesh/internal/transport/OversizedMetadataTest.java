package io.skymesh.mesh.internal.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.groups.Tuple.tuple;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.skymesh.codec.Headers;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.Message;
import io.skymesh.mesh.ServiceOptions;
import io.skymesh.mesh.TestMeshes;
import io.skymesh.mesh.rpc.Methods;
import io.skymesh.mesh.rpc.Reply;
import io.skymesh.proto.Header;
import io.skymesh.proto.PeerFrame;
import io.skymesh.proto.StatusCode;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;

/**
 * Metadata over {@link Headers#MAX_COUNT} entries or {@link Headers#MAX_BYTES} bytes is refused on
 * entry, with INVALID_ARGUMENT to the sender, and the connection goes on.
 */
class OversizedMetadataTest {

  private static final ServiceUrl ECHO = ServiceUrl.parse("game.zone1.echo/1");

  private final TestMeshes meshes = TestMeshes.withNameServer();
  private final List<RawPeer> raw = new ArrayList<>();
  private final Queue<Message> delivered = new ConcurrentLinkedQueue<>();

  @AfterEach
  void close() {
    raw.forEach(peer -> peer.connection().disposeNow());
    meshes.close();
  }

  private static List<Header> headers(int count, int valueLength) {
    List<Header> headers = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      headers.add(Header.newBuilder().setKey("k" + i).setValue("v".repeat(valueLength)).build());
    }
    return headers;
  }

  @Test
  void tooManyOrTooLargeHeadersAreRefusedAndTheConnectionGoesOn() {
    Mesh mesh = meshes.mesh();
    Methods methods =
        Methods.builder().add("Echo", request -> Mono.just(Reply.of(request.payload()))).build();
    mesh.register(
            ECHO,
            message -> Mono.fromRunnable(() -> delivered.add(message)),
            ServiceOptions.defaults().withMethods(methods))
        .block(TestMeshes.DEADLINE);
    RawPeer peer = RawPeer.connect(mesh.listenAddress());
    raw.add(peer);
    peer.send(PeerFrame.newBuilder().setHello(RawPeer.hello("raw", "game")).build());

    peer.send(data(headers(Headers.MAX_COUNT + 1, 1)));
    peer.send(request(1, headers(2, 5000)));
    peer.send(data(headers(Headers.MAX_COUNT, 1)));
    peer.send(request(3, headers(Headers.MAX_COUNT, 100)));

    await()
        .atMost(TestMeshes.DEADLINE)
        .until(() -> peer.frames.stream().filter(PeerFrame::hasResponse).count() == 2);
    assertThat(peer.frames)
        .filteredOn(PeerFrame::hasUndelivered)
        .extracting(
            f -> f.getUndelivered().getStatus().getCode(),
            f -> f.getUndelivered().getStatus().getMessage())
        .containsExactly(
            tuple(StatusCode.INVALID_ARGUMENT, "65 metadata entries, over the limit of 64"));
    assertThat(peer.frames)
        .filteredOn(PeerFrame::hasResponse)
        .extracting(f -> f.getResponse().getStreamId(), f -> f.getResponse().getStatus().getCode())
        .containsExactlyInAnyOrder(
            tuple(1L, StatusCode.INVALID_ARGUMENT), tuple(3L, StatusCode.OK));
    assertThat(peer.frames)
        .filteredOn(f -> f.hasResponse() && f.getResponse().getStreamId() == 1)
        .singleElement()
        .satisfies(
            f ->
                assertThat(f.getResponse().getStatus().getMessage())
                    .endsWith("bytes of metadata, over the limit of 8192"));
    await().atMost(TestMeshes.DEADLINE).until(() -> delivered.size() == 1);
    assertThat(delivered.peek().headers()).hasSize(Headers.MAX_COUNT);
  }

  private static PeerFrame data(List<Header> headers) {
    return RawPeer.data(
        "game.zone1.client/1", ECHO.toString(), headers, ByteString.copyFromUtf8("hi"));
  }

  private static PeerFrame request(long streamId, List<Header> headers) {
    return RawPeer.request(
        streamId,
        "game.zone1.client/1",
        ECHO.toString(),
        "Echo",
        headers,
        ByteString.copyFromUtf8("hi"));
  }
}

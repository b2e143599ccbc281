package io.skymesh.mesh.internal.rpc;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.MeshTimeoutException;
import io.skymesh.core.exceptions.PeerUnavailableException;
import io.skymesh.mesh.internal.peer.UrlCache;
import io.skymesh.mesh.internal.transport.InboundResponse;
import io.skymesh.mesh.rpc.OutgoingRequest;
import io.skymesh.mesh.rpc.Reply;
import io.skymesh.proto.GoAway;
import io.skymesh.proto.PeerFrame;
import io.skymesh.proto.Response;
import io.skymesh.proto.Status;
import io.skymesh.proto.StatusCode;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;

/** The caller's stream table against a connection that only records what it is asked to send. */
class RpcClientTest {

  private static final long FAR = System.nanoTime() + Duration.ofMinutes(1).toNanos();

  private final RecordingConnection connection = new RecordingConnection();
  private final RpcClient client = new RpcClient(new UrlCache());

  @Test
  void aGoAwayFailsOnlyTheRequestsAboveItsLastStreamIdAndTheOthersStillGetTheirReply() {
    AtomicReference<Object> first = new AtomicReference<>();
    AtomicReference<Object> second = new AtomicReference<>();
    subscribe(first);
    subscribe(second);
    assertThat(connection.streamIds()).containsExactly(1L, 2L);

    client.onGoAway(
        GoAway.newBuilder()
            .setStatus(Status.newBuilder().setCode(StatusCode.OK))
            .setLastStreamId(1)
            .build(),
        connection);

    assertThat(first.get()).isNull();
    assertThat(second.get()).isInstanceOf(PeerUnavailableException.class);
    client.onResponse(
        InboundResponse.of(
            Response.newBuilder()
                .setStreamId(1)
                .setStatus(Status.newBuilder().setCode(StatusCode.OK))
                .setPayload(ByteString.copyFromUtf8("done"))
                .build()),
        connection);
    assertThat(first.get()).isEqualTo(Reply.of(ByteString.copyFromUtf8("done")));
    assertThat(client.pending()).isZero();
  }

  @Test
  void anErrorStatusBecomesTheTypedExceptionAndAClosedConnectionFailsTheRest() {
    AtomicReference<Object> timedOut = new AtomicReference<>();
    AtomicReference<Object> orphan = new AtomicReference<>();
    subscribe(timedOut);
    subscribe(orphan);

    client.onResponse(
        InboundResponse.of(
            Response.newBuilder()
                .setStreamId(1)
                .setStatus(
                    Status.newBuilder().setCode(StatusCode.DEADLINE_EXCEEDED).setMessage("late"))
                .build()),
        connection);
    connection.closed.tryEmitEmpty();

    assertThat(timedOut.get()).isInstanceOf(MeshTimeoutException.class);
    assertThat(orphan.get()).isInstanceOf(PeerUnavailableException.class);
    assertThat(client.pending()).isZero();
  }

  @Test
  void cancellingSendsCancelAndALateResponseIsIgnored() {
    Disposable call = subscribe(new AtomicReference<>());

    call.dispose();

    assertThat(connection.sent)
        .extracting(PeerFrame::getBodyCase)
        .containsExactly(PeerFrame.BodyCase.REQUEST, PeerFrame.BodyCase.CANCEL);
    assertThat(connection.sent.stream().skip(1).findFirst().orElseThrow().getCancel().getStreamId())
        .isEqualTo(1);
    client.onResponse(InboundResponse.of(Response.newBuilder().setStreamId(1).build()), connection);
    assertThat(client.pending()).isZero();
  }

  private Disposable subscribe(AtomicReference<Object> outcome) {
    OutgoingRequest request =
        new OutgoingRequest(
            ServiceUrl.parse("a.b.caller/1"),
            ServiceUrl.parse("a.b.callee/1"),
            "M",
            Map.of(),
            ByteString.EMPTY,
            Duration.ofMinutes(1),
            false);
    return client.call(connection, request, FAR).subscribe(outcome::set, outcome::set);
  }
}

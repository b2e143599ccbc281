package io.skymesh.mesh.internal;

import static io.skymesh.mesh.TestMeshes.DEADLINE;
import static io.skymesh.mesh.TestMeshes.register;
import static io.skymesh.mesh.TestMeshes.sequence;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.RemoteException;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.TestMeshes;
import io.skymesh.mesh.Undelivered;
import io.skymesh.mesh.internal.transport.PeerConnection;
import io.skymesh.mesh.internal.transport.PeerTransport;
import io.skymesh.mesh.rpc.Methods;
import io.skymesh.mesh.rpc.Reply;
import io.skymesh.proto.Data;
import io.skymesh.proto.PeerFrame;
import io.skymesh.proto.Request;
import io.skymesh.proto.StatusCode;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;

/**
 * No silent loss: every message a receiver does not hand to a handler, or whose handler fails, is
 * reported to its sender and counted by the receiver.
 */
class UndeliveredTest {

  private static final String SENDER = "game.zone1.lobby/1";
  private static final String CHAT = "game.zone1.chat/1";

  private TestMeshes fixture;
  private PeerTransport raw;
  private final Queue<PeerFrame> heard = new ConcurrentLinkedQueue<>();

  @BeforeEach
  void start() {
    fixture = TestMeshes.withNameServer();
    raw = TestMeshes.hearing(heard);
  }

  @AfterEach
  void closeEverything() {
    raw.close().block(DEADLINE);
    fixture.close();
  }

  @Test
  void aRemoteHandlersFailureIsReportedToTheSenderAndTheMessagesAfterItArrive() {
    Mesh a = fixture.mesh();
    DefaultMesh b = (DefaultMesh) fixture.mesh();
    Queue<Long> received = new ConcurrentLinkedQueue<>();
    register(
        b,
        CHAT,
        message -> {
          long sequence = TestMeshes.sequenceOf(message);
          received.add(sequence);
          if (sequence == 0) {
            throw new IllegalStateException("thrown by the handler");
          }
          return sequence == 1 ? Mono.error(new IllegalStateException("signalled")) : Mono.empty();
        });
    MeshService sender = register(a, SENDER);
    List<Undelivered> reports = new CopyOnWriteArrayList<>();
    sender.undelivered().subscribe(reports::add);

    Flux.range(0, 3)
        .concatMap(i -> sender.sendTo(ServiceUrl.parse(CHAT), sequence(i)))
        .then()
        .block(DEADLINE);

    await().atMost(DEADLINE).until(() -> received.size() == 3 && reports.size() == 2);
    assertThat(received).containsExactly(0L, 1L, 2L);
    assertThat(reports)
        .allSatisfy(
            report -> {
              assertThat(report.source()).isEqualTo(sender.url());
              assertThat(report.destination()).isEqualTo(CHAT);
              assertThat(report.method()).isEmpty();
              assertThat(report.reason()).isInstanceOf(RemoteException.class);
            });
    assertThat(reports)
        .extracting(report -> report.reason().getMessage())
        .anySatisfy(message -> assertThat(message).contains("thrown by the handler"))
        .anySatisfy(message -> assertThat(message).contains("signalled"));
    assertThat(sender.undeliveredCount()).isEqualTo(2);
    assertThat(b.dataPlane().dropped(StatusCode.UNKNOWN)).isEqualTo(2);
  }

  @Test
  void anInProcessHandlersFailureFailsTheSend() {
    Mesh a = fixture.mesh();
    register(
        a,
        CHAT,
        message -> {
          if (TestMeshes.sequenceOf(message) == 0) {
            throw new IllegalStateException("thrown by the handler");
          }
          return Mono.error(new IllegalStateException("signalled"));
        });
    MeshService sender = register(a, SENDER);

    StepVerifier.create(sender.sendTo(ServiceUrl.parse(CHAT), sequence(0)))
        .expectErrorMessage("thrown by the handler")
        .verify(DEADLINE);
    StepVerifier.create(sender.sendTo(ServiceUrl.parse(CHAT), sequence(1)))
        .expectErrorMessage("signalled")
        .verify(DEADLINE);
  }

  @Test
  void aRemoteNotificationHandlersFailureIsReportedToTheSender() {
    Mesh a = fixture.mesh();
    DefaultMesh b = (DefaultMesh) fixture.mesh();
    Queue<String> ran = new ConcurrentLinkedQueue<>();
    register(
        b,
        CHAT,
        Methods.builder()
            .add(
                "Note",
                request -> {
                  ran.add(request.payload().toStringUtf8());
                  return Mono.error(new IllegalStateException("the note was refused"));
                })
            .build());
    MeshService sender = register(a, SENDER);
    List<Undelivered> reports = new CopyOnWriteArrayList<>();
    sender.undelivered().subscribe(reports::add);

    StepVerifier.create(
            sender.notify(ServiceUrl.parse(CHAT), "Note", ByteString.copyFromUtf8("hello")))
        .expectComplete()
        .verify(DEADLINE);

    await().atMost(DEADLINE).until(() -> reports.size() == 1);
    assertThat(ran).containsExactly("hello");
    Undelivered report = reports.get(0);
    assertThat(report.source()).isEqualTo(sender.url());
    assertThat(report.destination()).isEqualTo(CHAT);
    assertThat(report.method()).isEqualTo("Note");
    assertThat(report.reason())
        .isInstanceOf(RemoteException.class)
        .hasMessageContaining("the note was refused");
    assertThat(sender.undeliveredCount()).isEqualTo(1);
  }

  @Test
  void anInProcessNotificationHandlersFailureFailsTheNotify() {
    Mesh a = fixture.mesh();
    register(
        a,
        CHAT,
        Methods.builder()
            .add("Note", request -> Mono.error(new IllegalStateException("the note was refused")))
            .build());
    MeshService sender = register(a, SENDER);

    StepVerifier.create(
            sender.notify(ServiceUrl.parse(CHAT), "Note", ByteString.copyFromUtf8("hello")))
        .expectErrorSatisfies(
            e ->
                assertThat(e)
                    .isInstanceOf(RemoteException.class)
                    .hasMessageContaining("the note was refused"))
        .verify(DEADLINE);
  }

  @Test
  void aBroadcastSendsToEveryInstanceWhenOneOfThemFailsAndThenReportsTheFailure() {
    Mesh a = fixture.mesh();
    Queue<String> received = new ConcurrentLinkedQueue<>();
    for (int i = 1; i <= 3; i++) {
      String url = "game.zone1.chat/" + i;
      register(
          a,
          url,
          message -> {
            received.add(url);
            return url.endsWith("/2")
                ? Mono.error(new IllegalStateException("chat 2 failed"))
                : Mono.empty();
          });
    }
    MeshService sender = register(a, SENDER);
    ServiceUrl chat = ServiceUrl.parse(CHAT);
    a.router(chat.serviceName()).views().filter(v -> v.size() == 3).blockFirst(DEADLINE);

    StepVerifier.create(sender.broadcast(chat.serviceName(), sequence(1)))
        .expectErrorMessage("chat 2 failed")
        .verify(DEADLINE);

    assertThat(received)
        .containsExactlyInAnyOrder("game.zone1.chat/1", "game.zone1.chat/2", "game.zone1.chat/3");
  }

  @Test
  void aMessageForAnInstanceThatIsNotThereOrClosedIsReported() {
    DefaultMesh b = (DefaultMesh) fixture.mesh();
    MeshService closed = register(b, CHAT);
    closed.close().block(DEADLINE);
    PeerConnection toB = raw.connection(b.listenAddress()).block(DEADLINE);

    toB.send(data(SENDER, "game.zone1.nobody/1", 0)).block(DEADLINE);
    toB.send(data(SENDER, CHAT, 0)).block(DEADLINE);

    List<io.skymesh.proto.Undelivered> reports = reports(2);
    assertThat(reports)
        .allSatisfy(
            report -> {
              assertThat(report.getSource()).isEqualTo(SENDER);
              assertThat(report.getStatus().getCode()).isEqualTo(StatusCode.NOT_FOUND);
            });
    assertThat(reports)
        .extracting(io.skymesh.proto.Undelivered::getDestination)
        .containsExactly("game.zone1.nobody/1", CHAT);
    assertThat(b.dataPlane().dropped(StatusCode.NOT_FOUND)).isEqualTo(2);
  }

  @Test
  void aMessageWithABadServiceUrlIsReported() {
    DefaultMesh b = (DefaultMesh) fixture.mesh();
    PeerConnection toB = raw.connection(b.listenAddress()).block(DEADLINE);

    toB.send(data(SENDER, "not a service url", 0)).block(DEADLINE);

    io.skymesh.proto.Undelivered report = reports(1).get(0);
    assertThat(report.getDestination()).isEqualTo("not a service url");
    assertThat(report.getStatus().getCode()).isEqualTo(StatusCode.INVALID_ARGUMENT);
    assertThat(b.dataPlane().dropped(StatusCode.INVALID_ARGUMENT)).isEqualTo(1);
  }

  @Test
  void aRefusedNotificationIsReported() {
    DefaultMesh b = (DefaultMesh) fixture.mesh();
    PeerConnection toB = raw.connection(b.listenAddress()).block(DEADLINE);

    toB.send(request(1, "game.zone1.nobody/1", "Join", true)).block(DEADLINE);

    io.skymesh.proto.Undelivered report = reports(1).get(0);
    assertThat(report.getSource()).isEqualTo(SENDER);
    assertThat(report.getDestination()).isEqualTo("game.zone1.nobody/1");
    assertThat(report.getMethod()).isEqualTo("Join");
    assertThat(report.getStatus().getCode()).isEqualTo(StatusCode.NOT_FOUND);
  }

  @Test
  void aReusedStreamIdIsRefusedAtOnceAndTheFirstCallGoesOn() {
    DefaultMesh b = (DefaultMesh) fixture.mesh();
    register(
        b,
        CHAT,
        Methods.builder()
            .add("Hold", request -> Mono.<Reply>never())
            .add("Echo", request -> Mono.just(Reply.of(request.payload())))
            .build());
    PeerConnection toB = raw.connection(b.listenAddress()).block(DEADLINE);

    toB.send(request(7, CHAT, "Hold", false)).block(DEADLINE);
    toB.send(request(7, CHAT, "Echo", false)).block(DEADLINE);

    await().atMost(DEADLINE).until(() -> heard.stream().anyMatch(PeerFrame::hasResponse));
    PeerFrame refusal = heard.stream().filter(PeerFrame::hasResponse).findFirst().orElseThrow();
    assertThat(refusal.getResponse().getStreamId()).isEqualTo(7);
    assertThat(refusal.getResponse().getStatus().getCode())
        .isEqualTo(StatusCode.FAILED_PRECONDITION);
    assertThat(refusal.getResponse().getStatus().getMessage()).contains("stream id 7");
    assertThat(b.rpcServer().reusedStreamIds()).isEqualTo(1);
    assertThat(b.rpcServer().running()).isEqualTo(1);
  }

  private List<io.skymesh.proto.Undelivered> reports(int count) {
    await()
        .atMost(DEADLINE)
        .until(() -> heard.stream().filter(PeerFrame::hasUndelivered).count() >= count);
    return heard.stream().filter(PeerFrame::hasUndelivered).map(PeerFrame::getUndelivered).toList();
  }

  private static PeerFrame data(String source, String destination, long term) {
    return PeerFrame.newBuilder()
        .setData(
            Data.newBuilder()
                .setSource(source)
                .setDestination(destination)
                .setPayload(ByteString.copyFromUtf8("x"))
                .setLeaderTerm(term))
        .build();
  }

  private static PeerFrame request(
      long streamId, String destination, String method, boolean oneWay) {
    return PeerFrame.newBuilder()
        .setRequest(
            Request.newBuilder()
                .setStreamId(streamId)
                .setSource(SENDER)
                .setDestination(destination)
                .setMethod(method)
                .setTimeoutMicros(10_000_000)
                .setOneWay(oneWay))
        .build();
  }
}

package io.skymesh.mesh.internal;

import static io.skymesh.mesh.TestMeshes.DEADLINE;
import static io.skymesh.mesh.TestMeshes.register;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.NotLeaderException;
import io.skymesh.mesh.Leader;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.NameRouter;
import io.skymesh.mesh.TestMeshes;
import io.skymesh.mesh.Undelivered;
import io.skymesh.mesh.routing.RoutingPolicy;
import io.skymesh.mesh.rpc.Methods;
import io.skymesh.mesh.rpc.Reply;
import io.skymesh.mesh.rpc.RequestOptions;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;

/** Fencing: leader-routed messages carry the term, and a deposed leader refuses them. */
class FencingTest {

  private static final ServiceName LOBBY = ServiceName.parse("game.zone1.lobby");
  private static final ServiceUrl ONE = ServiceUrl.parse("game.zone1.lobby/1");
  private static final ServiceUrl TWO = ServiceUrl.parse("game.zone1.lobby/2");

  private TestMeshes fixture;

  @BeforeEach
  void startNameServer() {
    fixture = TestMeshes.withNameServer();
  }

  @AfterEach
  void closeEverything() {
    fixture.close();
  }

  @Test
  void staleLeadersFencedMessageIsRejectedWithTheTypedError() {
    // One and two live in the same mesh, so the refusal comes back to the sender typed.
    DefaultMesh shared = (DefaultMesh) fixture.mesh();
    List<String> oneGot = new CopyOnWriteArrayList<>();
    List<String> twoGot = new CopyOnWriteArrayList<>();
    MeshService one =
        register(
            shared,
            ONE.toString(),
            m -> Mono.fromRunnable(() -> oneGot.add(m.payload().toStringUtf8())));
    MeshService two =
        register(
            shared,
            TWO.toString(),
            m -> Mono.fromRunnable(() -> twoGot.add(m.payload().toStringUtf8())));
    MeshService client = register(shared, "game.zone1.client/1");
    one.campaign().subscribe();
    await().atMost(DEADLINE).until(() -> shared.router(LOBBY).currentLeader().isLeader(ONE));
    two.campaign().subscribe();

    Leader first = client.sendToLeader(LOBBY, ByteString.copyFromUtf8("to term 1")).block(DEADLINE);
    one.resign().block(DEADLINE);
    await().atMost(DEADLINE).until(() -> shared.router(LOBBY).currentLeader().isLeader(TWO));

    // What a sender that still believes in term 1 sends to the deposed leader.
    StepVerifier.create(
            shared
                .dataPlane()
                .send(client.url(), ONE, Map.of(), ByteString.copyFromUtf8("stale"), first.term()))
        .expectErrorSatisfies(
            e ->
                assertThat(e)
                    .isInstanceOf(NotLeaderException.class)
                    .hasMessageContaining(ONE + " does not lead " + LOBBY + " with term 1")
                    .hasMessageContaining(TWO + " with term 2"))
        .verify(DEADLINE);
    Leader second =
        client.sendToLeader(LOBBY, ByteString.copyFromUtf8("to term 2")).block(DEADLINE);

    assertThat(first.url()).contains(ONE);
    assertThat(second.url()).contains(TWO);
    assertThat(second.term()).isEqualTo(2);
    assertThat(oneGot).containsExactly("to term 1");
    assertThat(twoGot).containsExactly("to term 2");
  }

  @Test
  void remoteStaleLeaderDropsTheFencedMessage() {
    DefaultMesh leaders = (DefaultMesh) fixture.mesh();
    List<String> oneGot = new CopyOnWriteArrayList<>();
    MeshService one =
        register(
            leaders,
            ONE.toString(),
            m -> Mono.fromRunnable(() -> oneGot.add(m.payload().toStringUtf8())));
    MeshService two = register(leaders, TWO.toString());
    DefaultMesh other = (DefaultMesh) fixture.mesh();
    MeshService client = register(other, "game.zone1.client/1");
    one.campaign().subscribe();
    await().atMost(DEADLINE).until(() -> other.router(LOBBY).currentLeader().isLeader(ONE));
    client.sendToLeader(LOBBY, ByteString.copyFromUtf8("fresh")).block(DEADLINE);
    await().atMost(DEADLINE).until(() -> oneGot.contains("fresh"));
    two.campaign().subscribe();
    one.resign().block(DEADLINE);
    await().atMost(DEADLINE).until(() -> leaders.router(LOBBY).currentLeader().isLeader(TWO));

    // A message fenced with term 1, from another process, to the deposed leader.
    List<Undelivered> reports = new CopyOnWriteArrayList<>();
    client.undelivered().subscribe(reports::add);
    other
        .dataPlane()
        .send(client.url(), ONE, Map.of(), ByteString.copyFromUtf8("stale"), 1)
        .block(DEADLINE);
    client.sendTo(ONE, ByteString.copyFromUtf8("unfenced")).block(DEADLINE);

    await().atMost(DEADLINE).until(() -> oneGot.contains("unfenced"));
    assertThat(oneGot).containsExactly("fresh", "unfenced");
    assertThat(leaders.fencedMessages()).isEqualTo(1);
    // The sender hears of it.
    await().atMost(DEADLINE).until(() -> reports.size() == 1);
    assertThat(reports.get(0).reason())
        .isInstanceOf(NotLeaderException.class)
        .hasMessageContaining(ONE + " does not lead " + LOBBY + " with term 1");
    assertThat(client.undeliveredCount()).isEqualTo(1);
  }

  @Test
  void leaderRoutedRequestsCarryTheTermAndAStaleOneIsRefusedTyped() {
    DefaultMesh leaders = (DefaultMesh) fixture.mesh();
    MeshService one = register(leaders, ONE.toString(), whoAnswers(ONE));
    MeshService two = register(leaders, TWO.toString(), whoAnswers(TWO));
    DefaultMesh callers = (DefaultMesh) fixture.mesh();
    MeshService client = register(callers, "game.zone1.client/1");
    one.campaign().subscribe();
    two.campaign().subscribe();
    NameRouter router = callers.router(LOBBY);
    await().atMost(DEADLINE).until(() -> router.currentLeader().isLeader(ONE));
    await().atMost(DEADLINE).until(() -> leaders.router(LOBBY).currentLeader().isLeader(ONE));

    // Routed to the leader: the term travels and matches.
    StepVerifier.create(
            client.request(
                router,
                RoutingPolicy.leader(),
                null,
                "Who",
                ByteString.EMPTY,
                RequestOptions.defaults()))
        .assertNext(reply -> assertThat(reply.payload().toStringUtf8()).isEqualTo(ONE.toString()))
        .expectComplete()
        .verify(DEADLINE);

    one.resign().block(DEADLINE);
    await().atMost(DEADLINE).until(() -> leaders.router(LOBBY).currentLeader().isLeader(TWO));
    // A caller that still routes by term 1, over the network and in process: refused, typed.
    for (DefaultMesh from : List.of(callers, leaders)) {
      StepVerifier.create(
              from.calls()
                  .call(
                      from.calls()
                          .outgoing(
                              client.url(),
                              ONE,
                              "Who",
                              ByteString.EMPTY,
                              RequestOptions.defaults(),
                              false,
                              1)))
          .expectErrorSatisfies(
              e ->
                  assertThat(e)
                      .isInstanceOf(NotLeaderException.class)
                      .hasMessageContaining(ONE + " does not lead " + LOBBY + " with term 1"))
          .verify(DEADLINE);
    }
    // The same request without a term is an ordinary request to ONE, which still answers.
    StepVerifier.create(client.request(ONE, "Who", ByteString.EMPTY))
        .assertNext(reply -> assertThat(reply.payload().toStringUtf8()).isEqualTo(ONE.toString()))
        .expectComplete()
        .verify(DEADLINE);
    await().atMost(DEADLINE).until(() -> router.currentLeader().isLeader(TWO));
    StepVerifier.create(
            client.request(
                router,
                RoutingPolicy.leader(),
                null,
                "Who",
                ByteString.EMPTY,
                RequestOptions.defaults()))
        .assertNext(reply -> assertThat(reply.payload().toStringUtf8()).isEqualTo(TWO.toString()))
        .expectComplete()
        .verify(DEADLINE);
  }

  @Test
  void aSendRoutedByTheLeaderPolicyIsFencedAndAcceptedByTheLeader() {
    DefaultMesh leaders = (DefaultMesh) fixture.mesh();
    List<String> oneGot = new CopyOnWriteArrayList<>();
    MeshService one =
        register(
            leaders,
            ONE.toString(),
            m -> Mono.fromRunnable(() -> oneGot.add(m.payload().toStringUtf8())));
    DefaultMesh callers = (DefaultMesh) fixture.mesh();
    MeshService client = register(callers, "game.zone1.client/1");
    one.campaign().subscribe();
    NameRouter router = callers.router(LOBBY);
    await().atMost(DEADLINE).until(() -> router.currentLeader().isLeader(ONE));
    await().atMost(DEADLINE).until(() -> leaders.router(LOBBY).currentLeader().isLeader(ONE));

    StepVerifier.create(
            client.sendTo(router, RoutingPolicy.leader(), ByteString.copyFromUtf8("to the leader")))
        .assertNext(instance -> assertThat(instance.url()).isEqualTo(ONE))
        .expectComplete()
        .verify(DEADLINE);

    await().atMost(DEADLINE).until(() -> oneGot.contains("to the leader"));
    assertThat(leaders.fencedMessages()).isZero();
  }

  private static Methods whoAnswers(ServiceUrl self) {
    return Methods.builder()
        .add("Who", request -> Mono.just(Reply.of(ByteString.copyFromUtf8(self.toString()))))
        .build();
  }
}

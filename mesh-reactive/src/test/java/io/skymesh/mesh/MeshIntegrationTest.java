package io.skymesh.mesh;

import static io.skymesh.mesh.TestMeshes.register;
import static io.skymesh.mesh.TestMeshes.sequence;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.awaitility.Awaitility.await;

import io.netty.buffer.Unpooled;
import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.AlreadyRegisteredException;
import io.skymesh.core.exceptions.ServiceNotFoundException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.Connection;
import reactor.netty.tcp.TcpClient;
import reactor.test.StepVerifier;

/** Meshes and a real name server talking over loopback TCP. */
class MeshIntegrationTest {

  private static final Duration DEADLINE = TestMeshes.DEADLINE;
  private static final ServiceName LOBBY = ServiceName.parse("game.zone1.lobby");
  private static final ServiceName CHAT = ServiceName.parse("game.zone1.chat");

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
  void registrationShowsUpInAnotherMeshAndLeavingShowsUpAsRemoval() {
    Mesh a = mesh();
    Mesh b = mesh();
    NameRouter router = b.router(LOBBY);
    StepVerifier.create(router.members().map(e -> e.type() + " " + e.instance().url()))
        .then(() -> register(a, "game.zone1.lobby/1"))
        .expectNext("ADDED game.zone1.lobby/1")
        .then(() -> register(a, "game.zone1.lobby/2").close().block(DEADLINE))
        .expectNext("ADDED game.zone1.lobby/2", "REMOVED game.zone1.lobby/2")
        .then(() -> a.close().block(DEADLINE))
        .expectNext("REMOVED game.zone1.lobby/1")
        .thenCancel()
        .verify(DEADLINE);
    assertThat(router.currentView().isEmpty()).isTrue();
  }

  @Test
  void lateSubscriberGetsTheCurrentMembersFirst() {
    Mesh a = mesh();
    register(a, "game.zone1.lobby/1");
    register(a, "game.zone1.lobby/2");
    Mesh b = mesh();
    b.router(LOBBY).firstView().block(DEADLINE);

    StepVerifier.create(b.router(LOBBY).members().take(2).map(e -> e.instance().url().toString()))
        .expectNext("game.zone1.lobby/1", "game.zone1.lobby/2")
        .expectComplete()
        .verify(DEADLINE);
    assertThat(b.router(LOBBY)).isSameAs(b.router(LOBBY));
  }

  @Test
  void messagesArriveWithTheirSourceInOrder() {
    Mesh a = mesh();
    Mesh b = mesh();
    int count = 100_000;
    AtomicLong next = new AtomicLong();
    AtomicLong outOfOrder = new AtomicLong();
    Queue<ServiceUrl> sources = new ConcurrentLinkedQueue<>();
    register(
        b,
        "game.zone1.chat/1",
        MessageHandler.of(
            message -> {
              long sequence = message.payload().asReadOnlyByteBuffer().getLong();
              if (sequence != next.getAndIncrement()) {
                outOfOrder.incrementAndGet();
              }
              if (sequence == 0) {
                sources.add(message.source());
              }
            }));
    MeshService sender = register(a, "game.zone1.lobby/1");
    ServiceUrl destination = ServiceUrl.parse("game.zone1.chat/1");

    Flux.range(0, count)
        .flatMap(i -> sender.sendTo(destination, sequence(i)), 256)
        .then()
        .block(DEADLINE);

    await().atMost(DEADLINE).until(() -> next.get() == count);
    assertThat(outOfOrder.get()).isZero();
    assertThat(sources).containsExactly(sender.url());
  }

  @Test
  void handlerThatThrowsOrFailsDoesNotStopTheMessagesAfterIt() {
    Mesh a = mesh();
    Mesh b = mesh();
    Queue<Long> received = new ConcurrentLinkedQueue<>();
    register(
        b,
        "game.zone1.chat/1",
        message -> {
          long sequence = TestMeshes.sequenceOf(message);
          received.add(sequence);
          if (sequence == 0) {
            throw new IllegalStateException("thrown by the handler");
          }
          return sequence == 1 ? Mono.error(new IllegalStateException("signalled")) : Mono.empty();
        });
    MeshService sender = register(a, "game.zone1.lobby/1");
    ServiceUrl destination = ServiceUrl.parse("game.zone1.chat/1");

    Flux.range(0, 3).concatMap(i -> sender.sendTo(destination, sequence(i))).then().block(DEADLINE);

    await().atMost(DEADLINE).until(() -> received.size() == 3);
    assertThat(received).containsExactly(0L, 1L, 2L);
  }

  @Test
  void destinationInTheSameProcessIsServedInProcess() {
    Mesh a = mesh();
    Queue<Message> received = new ConcurrentLinkedQueue<>();
    register(a, "game.zone1.chat/1", MessageHandler.of(received::add));
    MeshService sender = register(a, "game.zone1.lobby/1");

    sender.sendTo(ServiceUrl.parse("game.zone1.chat/1"), sequence(7)).block(DEADLINE);

    assertThat(received)
        .singleElement()
        .satisfies(m -> assertThat(m.source()).isEqualTo(sender.url()));
  }

  @Test
  void broadcastReachesEveryOtherInstance() {
    Mesh a = mesh();
    Mesh b = mesh();
    Queue<ServiceUrl> receivers = new ConcurrentLinkedQueue<>();
    for (int i = 1; i <= 3; i++) {
      register(b, "game.zone1.chat/" + i, MessageHandler.of(m -> receivers.add(m.destination())));
    }
    MeshService sender = register(a, "game.zone1.lobby/1");
    a.router(CHAT).views().filter(v -> v.size() == 3).blockFirst(DEADLINE);

    StepVerifier.create(sender.broadcast(CHAT, sequence(1)))
        .expectNext(3)
        .expectComplete()
        .verify(DEADLINE);

    await().atMost(DEADLINE).until(() -> receivers.size() == 3);
  }

  @Test
  void sendToAnInstanceThatIsNotAliveFailsTyped() {
    Mesh a = mesh();
    MeshService sender = register(a, "game.zone1.lobby/1");

    StepVerifier.create(sender.sendTo(ServiceUrl.parse("game.zone1.chat/404"), sequence(1)))
        .expectErrorSatisfies(
            e ->
                assertThat(e)
                    .isInstanceOf(ServiceNotFoundException.class)
                    .hasMessageContaining("game.zone1.chat/404"))
        .verify(DEADLINE);
  }

  @Test
  void duplicateLiveRegistrationIsRefused() {
    Mesh a = mesh();
    Mesh b = mesh();
    register(a, "game.zone1.lobby/1");

    StepVerifier.create(b.register(ServiceUrl.parse("game.zone1.lobby/1"), m -> Mono.empty()))
        .expectError(AlreadyRegisteredException.class)
        .verify(DEADLINE);
    StepVerifier.create(a.register(ServiceUrl.parse("game.zone1.lobby/1"), m -> Mono.empty()))
        .expectError(AlreadyRegisteredException.class)
        .verify(DEADLINE);
  }

  @Test
  void badArgumentsFailFastWithNamedParts() {
    Mesh a = mesh();
    assertThatIllegalArgumentException()
        .isThrownBy(() -> a.register(ServiceUrl.parse("other.zone1.lobby/1"), m -> Mono.empty()))
        .withMessageContaining("appId game");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> ServiceUrl.parse("game.zone1.lobby/no spaces"))
        .withMessageContaining("instanceId \"no spaces\"");
  }

  @Test
  void nameServerRestartOnTheSamePortIsSurvived() {
    Mesh a = mesh();
    Mesh b = mesh();
    // Churn first, so that the old server's revisions are well past what a new one starts with.
    for (int i = 0; i < 10; i++) {
      register(a, "game.zone1.lobby/churn").close().block(DEADLINE);
    }
    register(a, "game.zone1.lobby/1");
    register(b, "game.zone1.lobby/2");
    NameRouter router = b.router(LOBBY);
    Queue<MembershipEvent> events = new ConcurrentLinkedQueue<>();
    Queue<Long> revisions = new ConcurrentLinkedQueue<>();
    router.members().subscribe(events::add);
    router.views().subscribe(v -> revisions.add(v.revision()));
    await().atMost(DEADLINE).until(() -> router.currentView().size() == 2);
    int port = fixture.nameServer().port();

    fixture.nameServer().closeNow(DEADLINE);
    fixture.startNameServer(port);
    register(a, "game.zone1.lobby/3");

    await()
        .atMost(DEADLINE)
        .until(
            () ->
                router.currentView().instances().stream()
                    .map(i -> i.url().instanceId())
                    .collect(Collectors.toSet())
                    .equals(java.util.Set.of("1", "2", "3")));
    assertThat(a.router(LOBBY).firstView().block(DEADLINE).size()).isEqualTo(3);
    List<Long> seen = new ArrayList<>(revisions);
    for (int i = 1; i < seen.size(); i++) {
      assertThat(seen.get(i)).as("revisions %s", seen).isGreaterThan(seen.get(i - 1));
    }
    List<String> added =
        events.stream()
            .filter(e -> e.type() == MembershipEvent.Type.ADDED)
            .map(e -> e.instance().url().toString())
            .toList();
    assertThat(added).doesNotHaveDuplicates().hasSize(3);
  }

  @Test
  void instanceThatDoesNotComeBackAfterARestartIsRemovedAfterTheGrace() {
    Mesh a = mesh();
    Mesh b = mesh();
    register(a, "game.zone1.lobby/1");
    register(b, "game.zone1.lobby/2");
    NameRouter router = b.router(LOBBY);
    await().atMost(DEADLINE).until(() -> router.currentView().size() == 2);
    int port = fixture.nameServer().port();

    fixture.nameServer().closeNow(DEADLINE);
    a.close().block(DEADLINE);
    fixture.startNameServer(port);

    // Kept through the reconnection (its owner might have re-registered), then removed.
    StepVerifier.create(
            router.members().filter(e -> e.type() == MembershipEvent.Type.REMOVED).next())
        .assertNext(e -> assertThat(e.instance().url().toString()).isEqualTo("game.zone1.lobby/1"))
        .expectComplete()
        .verify(DEADLINE);
    assertThat(router.currentView().instances())
        .extracting(i -> i.url().toString())
        .containsExactly("game.zone1.lobby/2");
  }

  @Test
  void randomBytesCloseOnlyThatConnection() {
    Mesh a = mesh();
    Mesh b = mesh();
    Queue<Message> received = new ConcurrentLinkedQueue<>();
    register(b, "game.zone1.chat/1", MessageHandler.of(received::add));
    MeshService sender = register(a, "game.zone1.lobby/1");
    byte[] garbage = new byte[512];
    new Random(3).nextBytes(garbage);
    garbage[0] = 0x7F;

    for (String address : List.of(b.listenAddress(), "127.0.0.1:" + fixture.nameServer().port())) {
      int colon = address.lastIndexOf(':');
      Connection attacker =
          TcpClient.create()
              .host(address.substring(0, colon))
              .port(Integer.parseInt(address.substring(colon + 1)))
              .connectNow(DEADLINE);
      attacker.outbound().sendObject(Unpooled.wrappedBuffer(garbage)).then().subscribe();
      StepVerifier.create(attacker.onDispose()).expectComplete().verify(DEADLINE);
    }

    sender.sendTo(ServiceUrl.parse("game.zone1.chat/1"), sequence(1)).block(DEADLINE);
    await().atMost(DEADLINE).until(() -> received.size() == 1);
    register(a, "game.zone1.lobby/2");
  }

  private Mesh mesh() {
    return fixture.mesh();
  }
}

package io.skymesh.mesh.internal.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.skymesh.codec.Tickets;
import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.PeerUnavailableException;
import io.skymesh.core.exceptions.RemoteException;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshBuilder;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.Message;
import io.skymesh.mesh.ServiceOptions;
import io.skymesh.mesh.internal.DefaultMesh;
import io.skymesh.mesh.rpc.Methods;
import io.skymesh.mesh.rpc.Reply;
import io.skymesh.nameserver.NameServer;
import io.skymesh.nameserver.Principal;
import io.skymesh.nameserver.Principal.Role;
import io.skymesh.nameserver.client.NameServerConnection;
import io.skymesh.proto.IssueTicket;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.OpenSession;
import io.skymesh.proto.PeerFrame;
import io.skymesh.proto.PeerTicket;
import io.skymesh.proto.StatusCode;
import io.skymesh.proto.TicketClaims;
import io.skymesh.proto.TicketIssued;
import java.security.KeyPair;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;

/**
 * Peer tickets over real TCP with a real name server: meshes that require them talk; a peer without
 * one, with an expired one, one signed by a stranger or shown to someone else is refused at its
 * {@code Hello}; a peer with a ticket for app A delivers nothing that claims a source in app B; and
 * tickets renew under traffic without breaking the connection.
 */
class PeerTicketsTest {

  private static final Duration DEADLINE = Duration.ofSeconds(30);
  private static final Principal GAME =
      new Principal("game-services", "game-secret", Set.of(Role.SERVICE), Set.of("game"));
  private static final Principal CHAT =
      new Principal("chat-services", "chat-secret", Set.of(Role.SERVICE), Set.of("chat"));
  private static final ServiceUrl ECHO = ServiceUrl.parse("game.zone1.echo/1");

  private final KeyPair serverKey = Tickets.newKeyPair();
  private final List<Mesh> meshes = new ArrayList<>();
  private final List<RawPeer> raw = new ArrayList<>();
  private final List<NameServerConnection> sessions = new ArrayList<>();
  private final Queue<Message> delivered = new ConcurrentLinkedQueue<>();
  private final AtomicInteger clients = new AtomicInteger();
  private NameServer server;

  @AfterEach
  void close() {
    raw.forEach(peer -> peer.connection().disposeNow());
    sessions.forEach(NameServerConnection::dispose);
    meshes.forEach(mesh -> mesh.close().block(DEADLINE));
    if (server != null) {
      server.closeNow(DEADLINE);
    }
  }

  private void startServer(Duration ticketLifetime) {
    server =
        NameServer.builder()
            .principal(GAME)
            .principal(CHAT)
            .ticketKey(serverKey)
            .ticketLifetime(ticketLifetime)
            .start()
            .block(DEADLINE);
  }

  private MeshBuilder builder(String appId, Principal principal) {
    return Mesh.builder(appId).nameServer("127.0.0.1:" + server.port()).token(principal.token());
  }

  private Mesh start(MeshBuilder builder) {
    Mesh mesh = builder.start().block(DEADLINE);
    meshes.add(mesh);
    return mesh;
  }

  /** Registers the echo service: requests are answered, messages kept in {@link #delivered}. */
  private void registerEcho(Mesh mesh) {
    Methods methods =
        Methods.builder().add("Echo", request -> Mono.just(Reply.of(request.payload()))).build();
    mesh.register(
            ECHO,
            message -> Mono.fromRunnable(() -> delivered.add(message)),
            ServiceOptions.defaults().withMethods(methods))
        .block(DEADLINE);
  }

  private static Mono<String> echo(MeshService client, String text) {
    return client
        .request(ECHO, "Echo", ByteString.copyFromUtf8(text))
        .map(reply -> reply.payload().toStringUtf8());
  }

  private MeshService client(Mesh mesh) {
    MeshService client =
        mesh.register(
                ServiceUrl.parse(mesh.appId() + ".zone1.client/" + clients.incrementAndGet()),
                message -> Mono.empty())
            .block(DEADLINE);
    mesh.router(ECHO.serviceName()).views().filter(view -> view.size() == 1).blockFirst(DEADLINE);
    return client;
  }

  @Test
  void meshesWithTicketsTalkAndAMeshWithoutOneIsRefused() {
    startServer(Duration.ofMinutes(10));
    Mesh callee = start(builder("game", GAME).requirePeerTickets());
    registerEcho(callee);
    Mesh caller = start(builder("game", GAME).requirePeerTickets());
    StepVerifier.create(echo(client(caller), "hi"))
        .expectNext("hi")
        .expectComplete()
        .verify(DEADLINE);

    Mesh stranger = start(builder("game", GAME));
    StepVerifier.create(echo(client(stranger), "hi"))
        .expectErrorSatisfies(
            error ->
                assertThat(error)
                    .isInstanceOf(PeerUnavailableException.class)
                    .hasMessageContaining("UNAUTHENTICATED")
                    .hasMessageContaining("sent no ticket"))
        .verify(DEADLINE);
    assertThat(((DefaultMesh) callee).transport().ticketsRefused()).isEqualTo(1);
  }

  @Test
  void aTicketForOneAppCarriesNoSourceOfAnother() {
    startServer(Duration.ofMinutes(10));
    Mesh callee = start(builder("game", GAME).requirePeerTickets());
    registerEcho(callee);
    KeyPair holder = Tickets.newKeyPair();
    // A real ticket for app chat, from the name server, for a key this test holds.
    PeerTicket chatTicket = issue("chat", CHAT, holder);
    RawPeer peer = connect(callee);
    peer.send(hello("raw-chat", "chat", chatTicket, holder, callee.listenAddress()));
    await().atMost(DEADLINE).until(() -> peer.frames.stream().anyMatch(PeerFrame::hasHello));

    // Claiming a source in app game: refused, reported, never delivered.
    peer.send(data("game.zone1.client/1"));
    peer.send(request(1, "game.zone1.client/1"));
    // Its own app's source: delivered and answered.
    peer.send(data("chat.zone1.client/1"));
    peer.send(request(3, "chat.zone1.client/1"));

    await()
        .atMost(DEADLINE)
        .until(() -> peer.frames.stream().filter(PeerFrame::hasResponse).count() == 2);
    assertThat(peer.frames)
        .filteredOn(PeerFrame::hasUndelivered)
        .singleElement()
        .satisfies(
            f -> {
              assertThat(f.getUndelivered().getStatus().getCode())
                  .isEqualTo(StatusCode.PERMISSION_DENIED);
              assertThat(f.getUndelivered().getStatus().getMessage())
                  .contains("game.zone1.client/1 is not in app chat");
            });
    assertThat(peer.frames)
        .filteredOn(PeerFrame::hasResponse)
        .extracting(f -> f.getResponse().getStreamId(), f -> f.getResponse().getStatus().getCode())
        .containsExactlyInAnyOrder(
            org.assertj.core.groups.Tuple.tuple(1L, StatusCode.PERMISSION_DENIED),
            org.assertj.core.groups.Tuple.tuple(3L, StatusCode.OK));
    await().atMost(DEADLINE).until(() -> delivered.size() == 1);
    assertThat(delivered)
        .singleElement()
        .satisfies(m -> assertThat(m.source().toString()).isEqualTo("chat.zone1.client/1"));
  }

  @Test
  void aHelloWithAnExpiredAStrangersOrAReplayedTicketIsRefused() {
    startServer(Duration.ofMinutes(10));
    Mesh callee = start(builder("game", GAME).requirePeerTickets());
    KeyPair holder = Tickets.newKeyPair();
    long now = System.currentTimeMillis();

    PeerTicket expired = sign(serverKey, "game", holder, now - 60_000, now - 1_000);
    assertRefused(
        callee, hello("raw-1", "game", expired, holder, callee.listenAddress()), "expired");

    PeerTicket forged = sign(Tickets.newKeyPair(), "game", holder, now, now + 60_000);
    assertRefused(
        callee,
        hello("raw-2", "game", forged, holder, callee.listenAddress()),
        "not signed by a trusted issuer");

    // A valid ticket, but its Hello was meant for another peer: a replay.
    PeerTicket valid = issue("game", GAME, holder);
    assertRefused(
        callee, hello("raw-3", "game", valid, holder, "127.0.0.1:1"), "proof does not verify");
    // The holder's key is not the one that proves.
    assertRefused(
        callee,
        hello("raw-4", "game", valid, Tickets.newKeyPair(), callee.listenAddress()),
        "proof does not verify");
    // The Hello says one app, the ticket another.
    assertRefused(
        callee,
        hello("raw-5", "chat", valid, holder, callee.listenAddress()),
        "but its ticket is for app game");
    assertThat(((DefaultMesh) callee).transport().ticketsRefused()).isEqualTo(5);

    // And the same ticket, shown as it should be, is taken.
    RawPeer good = connect(callee);
    good.send(hello("raw-6", "game", valid, holder, callee.listenAddress()));
    await().atMost(DEADLINE).until(() -> good.frames.stream().anyMatch(PeerFrame::hasHello));
  }

  @Test
  void ticketsRenewUnderTrafficWithoutBreakingTheConnection() {
    startServer(Duration.ofSeconds(3));
    Mesh callee = start(builder("game", GAME).requirePeerTickets());
    registerEcho(callee);
    Mesh caller = start(builder("game", GAME).requirePeerTickets());
    MeshService client = client(caller);
    PeerTickets calleeTickets = ((DefaultMesh) callee).tickets();
    PeerTickets callerTickets = ((DefaultMesh) caller).tickets();
    long firstExpiry = callerTickets.expiresAtMillis();

    // Requests one after another until both sides have renewed three times (about 6 s): with a
    // 3 s ticket renewed after 2 s, any renewal that did not reach the peer fails a request with
    // UNAUTHENTICATED within a second.
    StepVerifier.create(
            Flux.range(0, Integer.MAX_VALUE)
                .concatMap(i -> echo(client, "m" + i).delayElement(Duration.ofMillis(20)))
                .takeUntil(
                    reply ->
                        calleeTickets.ticketsIssued() >= 4 && callerTickets.ticketsIssued() >= 4)
                .then())
        .expectComplete()
        .verify(DEADLINE);

    assertThat(callerTickets.expiresAtMillis()).isGreaterThan(firstExpiry);
    assertThat(calleeTickets.failedRenewals()).isZero();
    assertThat(callerTickets.failedRenewals()).isZero();
    // One connection all along: a renewal travels on it.
    assertThat(((DefaultMesh) callee).transport().acceptedConnections()).isEqualTo(1);
    assertThat(((DefaultMesh) callee).transport().ticketsRefused()).isZero();
  }

  @Test
  void aNameServerRestartedWithANewKeyIsLearnedWithoutBreakingPeers() {
    // No fixed key: the restarted server makes a new one.
    server =
        NameServer.builder()
            .principal(GAME)
            .ticketLifetime(Duration.ofSeconds(3))
            .start()
            .block(DEADLINE);
    int port = server.port();
    UnaryOperator<MeshBuilder> quick =
        b ->
            b.requirePeerTickets()
                .sessionTtl(Duration.ofSeconds(2))
                .reconnectBackoff(Duration.ofMillis(50), Duration.ofMillis(500));
    Mesh callee = start(quick.apply(builder("game", GAME)));
    registerEcho(callee);
    Mesh caller = start(quick.apply(builder("game", GAME)));
    MeshService client = client(caller);
    StepVerifier.create(echo(client, "before"))
        .expectNext("before")
        .expectComplete()
        .verify(DEADLINE);
    PeerTickets calleeTickets = ((DefaultMesh) callee).tickets();
    PeerTickets callerTickets = ((DefaultMesh) caller).tickets();
    long calleeIssued = calleeTickets.ticketsIssued();
    long callerIssued = callerTickets.ticketsIssued();

    server.closeNow(DEADLINE);
    server =
        NameServer.builder()
            .port(port)
            .principal(GAME)
            .ticketLifetime(Duration.ofSeconds(3))
            .start()
            .block(DEADLINE);

    // Both reconnect and renew at once, learning the new key; a mesh started now, which knows
    // only the new key, reaches the callee; the old connection carries on through renewals
    // signed with the new key.
    await()
        .atMost(DEADLINE)
        .until(
            () ->
                calleeTickets.ticketsIssued() > calleeIssued
                    && callerTickets.ticketsIssued() > callerIssued);
    Mesh newcomer = start(quick.apply(builder("game", GAME)));
    StepVerifier.create(echo(client(newcomer), "new"))
        .expectNext("new")
        .expectComplete()
        .verify(DEADLINE);
    long target = callerTickets.ticketsIssued() + 2;
    StepVerifier.create(
            Flux.range(0, Integer.MAX_VALUE)
                .concatMap(i -> echo(client, "m" + i).delayElement(Duration.ofMillis(20)))
                .takeUntil(reply -> callerTickets.ticketsIssued() >= target)
                .then())
        .expectComplete()
        .verify(DEADLINE);
    assertThat(((DefaultMesh) callee).transport().ticketsRefused()).isZero();
  }

  @Test
  void aServiceWhoseNameServerRefusesItATicketDoesNotStart() {
    Principal reader =
        new Principal("reader", "reader-secret", Set.of(Role.READER), Set.of("game"));
    server =
        NameServer.builder()
            .principal(GAME)
            .principal(reader)
            .ticketKey(serverKey)
            .start()
            .block(DEADLINE);
    StepVerifier.create(builder("game", reader).requirePeerTickets().start())
        .expectErrorSatisfies(
            error ->
                assertThat(error)
                    .isInstanceOf(RemoteException.class)
                    .hasMessageContaining("reader may not hold a peer ticket for app \"game\""))
        .verify(DEADLINE);
  }

  // ---------------------------------------------------------------------------------------------

  private void assertRefused(Mesh callee, PeerFrame hello, String why) {
    RawPeer peer = connect(callee);
    peer.send(hello);
    peer.awaitClosed();
    assertThat(peer.frames)
        .singleElement()
        .satisfies(
            f -> {
              assertThat(f.getGoAway().getStatus().getCode()).isEqualTo(StatusCode.UNAUTHENTICATED);
              assertThat(f.getGoAway().getStatus().getMessage()).contains(why);
            });
  }

  private RawPeer connect(Mesh mesh) {
    RawPeer peer = RawPeer.connect(mesh.listenAddress());
    raw.add(peer);
    return peer;
  }

  /** Opens a name-server session for {@code appId} and asks it for a ticket for {@code holder}. */
  private PeerTicket issue(String appId, Principal principal, KeyPair holder) {
    NameServerConnection connection =
        NameServerConnection.builder("127.0.0.1", server.port()).connect().block(DEADLINE);
    sessions.add(connection);
    connection
        .request(
            NameClientFrame.newBuilder()
                .setOpenSession(
                    OpenSession.newBuilder()
                        .setProtocolVersion(1)
                        .setAppId(appId)
                        .setToken(principal.token())))
        .block(DEADLINE);
    TicketIssued issued =
        connection
            .request(
                NameClientFrame.newBuilder()
                    .setIssueTicket(
                        IssueTicket.newBuilder().setHolderKey(Tickets.encode(holder.getPublic()))))
            .block(DEADLINE)
            .getTicketIssued();
    assertThat(issued.getIssuerKey()).isEqualTo(Tickets.encode(serverKey.getPublic()));
    return issued.getTicket();
  }

  private static PeerTicket sign(
      KeyPair issuer, String appId, KeyPair holder, long issuedAt, long expiresAt) {
    return Tickets.sign(
        TicketClaims.newBuilder()
            .setAppId(appId)
            .setHolderKey(Tickets.encode(holder.getPublic()))
            .setIssuedAtMillis(issuedAt)
            .setExpiresAtMillis(expiresAt)
            .build(),
        issuer.getPrivate());
  }

  private static PeerFrame hello(
      String processId, String appId, PeerTicket ticket, KeyPair prover, String audience) {
    return PeerFrame.newBuilder()
        .setHello(
            RawPeer.hello(processId, appId)
                .setTicket(ticket)
                .setProof(Tickets.prove(ticket, processId, audience, prover.getPrivate())))
        .build();
  }

  private static PeerFrame data(String source) {
    return RawPeer.data(
        source, ECHO.toString(), List.of(), ByteString.copyFromUtf8("from " + source));
  }

  private static PeerFrame request(long streamId, String source) {
    return RawPeer.request(
        streamId,
        source,
        ECHO.toString(),
        "Echo",
        List.of(),
        ByteString.copyFromUtf8("from " + source));
  }
}

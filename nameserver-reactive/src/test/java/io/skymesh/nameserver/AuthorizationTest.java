package io.skymesh.nameserver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.skymesh.codec.Tickets;
import io.skymesh.nameserver.Principal.Role;
import io.skymesh.proto.Campaign;
import io.skymesh.proto.ClearServices;
import io.skymesh.proto.Deregister;
import io.skymesh.proto.HealthCheck;
import io.skymesh.proto.IssueTicket;
import io.skymesh.proto.KeepAlive;
import io.skymesh.proto.KvDelete;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.OpenSession;
import io.skymesh.proto.Resign;
import io.skymesh.proto.StatusCode;
import io.skymesh.proto.Unwatch;
import io.skymesh.proto.Watch;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.test.StepVerifier;

/**
 * Every name-server verb tried with no token, a wrong token, a token of another app, a reader's, a
 * service's and an admin's: each answer is the expected one, a refusal names the missing right, and
 * a refused request changes nothing (the server's revision, which every change moves, stays).
 */
class AuthorizationTest extends NameServerTestSupport {

  private static final Principal LOBBY =
      new Principal("lobby", "lobby-secret", Set.of(Role.SERVICE), Set.of("game"));
  private static final Principal CHAT =
      new Principal("chat", "chat-secret", Set.of(Role.SERVICE), Set.of("chat"));
  private static final Principal VIEWER =
      new Principal("viewer", "viewer-secret", Set.of(Role.READER), Set.of("game"));
  private static final Principal OPS =
      new Principal("ops", "ops-secret", Set.of(Role.ADMIN), Set.of(Principal.ANY_APP));

  private static final StatusCode OK = StatusCode.OK;
  private static final StatusCode DENIED = StatusCode.PERMISSION_DENIED;
  private static final StatusCode NOT_FOUND = StatusCode.NOT_FOUND;

  private static final ByteString HOLDER_KEY = Tickets.encode(Tickets.newKeyPair().getPublic());

  private final AtomicLong ids = new AtomicLong(100);
  private NameServer server;

  /** One verb, and the answer each principal gets: chat, viewer, ops, lobby. */
  private record Row(
      String verb, Supplier<NameClientFrame.Builder> request, List<StatusCode> expected) {}

  @BeforeEach
  void startWithPrincipalsAndSomeState() {
    server = start(b -> b.principal(LOBBY).principal(CHAT).principal(VIEWER).principal(OPS));
    TestClient owner = open(server, "game", LOBBY.token());
    owner.register("game.zone1.lobby/1", "127.0.0.1:7001").block(TIMEOUT);
    owner.ack(TestClient.campaign("game.zone1.lobby/1")).block(TIMEOUT);
    open(server, "skymesh-admin", OPS.token()).put("game/motd", "hello");
  }

  private TestClient open(NameServer server, String appId, String token) {
    TestClient client = connect(server);
    NameServerFrame answer = client.call(openSession(appId, token)).block(TIMEOUT);
    assertThat(answer.hasAck()).as("opening %s with %s: %s", appId, token, answer).isTrue();
    return client;
  }

  private static NameClientFrame.Builder openSession(String appId, String token) {
    return NameClientFrame.newBuilder()
        .setOpenSession(
            OpenSession.newBuilder().setProtocolVersion(1).setAppId(appId).setToken(token));
  }

  private List<Row> rows() {
    return List.of(
        row(
            "KeepAlive",
            () -> NameClientFrame.newBuilder().setKeepAlive(KeepAlive.getDefaultInstance()),
            OK,
            OK,
            OK,
            OK),
        row(
            "HealthCheck",
            () -> NameClientFrame.newBuilder().setHealthCheck(HealthCheck.getDefaultInstance()),
            OK,
            OK,
            OK,
            OK),
        // A ticket vouches that its holder runs services of the session's app.
        row(
            "IssueTicket",
            () ->
                NameClientFrame.newBuilder()
                    .setIssueTicket(IssueTicket.newBuilder().setHolderKey(HOLDER_KEY)),
            OK,
            DENIED,
            DENIED,
            OK),
        row(
            "Register",
            () -> TestClient.register("game.zone1.lobby/2", "127.0.0.1:7002", Map.of()),
            DENIED,
            DENIED,
            DENIED,
            null),
        row(
            "Deregister",
            () ->
                NameClientFrame.newBuilder()
                    .setDeregister(Deregister.newBuilder().setUrl("game.zone1.lobby/1")),
            DENIED,
            DENIED,
            DENIED,
            NOT_FOUND),
        row(
            "SetAttributes",
            () -> TestClient.setAttributes("game.zone1.lobby/1", Map.of("load", "9"), true),
            DENIED,
            DENIED,
            DENIED,
            NOT_FOUND),
        row(
            "Campaign",
            () ->
                NameClientFrame.newBuilder()
                    .setCampaign(Campaign.newBuilder().setUrl("game.zone1.lobby/1")),
            DENIED,
            DENIED,
            DENIED,
            NOT_FOUND),
        row(
            "Resign",
            () ->
                NameClientFrame.newBuilder()
                    .setResign(Resign.newBuilder().setUrl("game.zone1.lobby/1")),
            DENIED,
            DENIED,
            DENIED,
            NOT_FOUND),
        row(
            "Watch a service",
            () ->
                NameClientFrame.newBuilder()
                    .setWatch(
                        Watch.newBuilder()
                            .setWatchId(ids.incrementAndGet())
                            .setServiceName("game.zone1.lobby")),
            DENIED,
            OK,
            OK,
            OK),
        row(
            "Watch an app",
            () ->
                NameClientFrame.newBuilder()
                    .setWatch(
                        Watch.newBuilder().setWatchId(ids.incrementAndGet()).setPrefix("game.")),
            DENIED,
            OK,
            OK,
            OK),
        row(
            "Watch everything",
            () ->
                NameClientFrame.newBuilder()
                    .setWatch(Watch.newBuilder().setWatchId(ids.incrementAndGet()).setPrefix("")),
            DENIED,
            DENIED,
            OK,
            DENIED),
        row(
            "Unwatch",
            () -> NameClientFrame.newBuilder().setUnwatch(Unwatch.newBuilder().setWatchId(1)),
            OK,
            OK,
            OK,
            OK),
        row("KvGet", () -> TestClient.kvGet("game/motd"), DENIED, OK, OK, OK),
        row("KvList an app", () -> TestClient.kvList("game/"), DENIED, OK, OK, OK),
        row("KvList everything", () -> TestClient.kvList(""), DENIED, DENIED, OK, DENIED),
        row(
            "KvWatch",
            () -> TestClient.kvWatch(ids.incrementAndGet(), "game/", 0),
            DENIED,
            OK,
            OK,
            OK),
        // The changes an admin may make, last: they move the revision.
        row("KvPut", () -> TestClient.kvPut("game/motd", "bye"), DENIED, DENIED, null, DENIED),
        row(
            "KvDelete",
            () -> TestClient.kvDelete("game/motd", false),
            DENIED,
            DENIED,
            null,
            DENIED),
        row(
            "KvDelete a prefix of every app",
            () ->
                NameClientFrame.newBuilder()
                    .setKvDelete(KvDelete.newBuilder().setKey("").setPrefix(true)),
            DENIED,
            DENIED,
            null,
            DENIED),
        row(
            "ClearServices",
            () ->
                NameClientFrame.newBuilder()
                    .setClearServices(ClearServices.newBuilder().setPrefix("game.")),
            DENIED,
            DENIED,
            null,
            DENIED));
  }

  /** {@code null} for an expected answer: OK, and it changes the state. */
  private static Row row(
      String verb,
      Supplier<NameClientFrame.Builder> request,
      StatusCode chat,
      StatusCode viewer,
      StatusCode ops,
      StatusCode lobby) {
    List<StatusCode> expected = new ArrayList<>();
    expected.add(chat);
    expected.add(viewer);
    expected.add(ops);
    expected.add(lobby);
    return new Row(verb, request, expected);
  }

  @Test
  void everyVerbForEveryKindOfToken() {
    List<Principal> principals = List.of(CHAT, VIEWER, OPS, LOBBY);
    List<String> apps = List.of("chat", "game", "skymesh-admin", "game");
    for (int p = 0; p < principals.size(); p++) {
      Principal principal = principals.get(p);
      TestClient client = open(server, apps.get(p), principal.token());
      for (Row row : rows()) {
        StatusCode expected = row.expected().get(p);
        long before = server.revision();
        NameServerFrame answer = client.call(row.request().get()).block(TIMEOUT);
        String what = principal.name() + " " + row.verb() + ": " + answer;
        if (expected == null || expected == OK) {
          assertThat(answer.hasAck()).as(what).isTrue();
          if (expected == OK) {
            assertThat(server.revision()).as(what).isEqualTo(before);
          }
        } else {
          assertThat(answer.hasError()).as(what).isTrue();
          assertThat(answer.getError().getStatus().getCode()).as(what).isEqualTo(expected);
          assertThat(server.revision()).as("nothing changed: " + what).isEqualTo(before);
          if (expected == DENIED) {
            assertThat(answer.getError().getStatus().getMessage())
                .as(what)
                .startsWith(principal.name() + " may not ")
                .contains("it needs role ");
          }
        }
      }
    }
  }

  @Test
  void withoutAKnownTokenNoSessionOpensAndNothingElseIsAnswered() {
    long before = server.revision();
    for (String token : List.of("", "not-a-token")) {
      TestClient client = connect(server);
      NameServerFrame answer = client.call(openSession("game", token)).block(TIMEOUT);
      assertThat(answer.getError().getStatus().getCode()).isEqualTo(StatusCode.UNAUTHENTICATED);
      assertThat(answer.getError().getStatus().getMessage())
          .isEqualTo(
              token.isEmpty()
                  ? "this name server requires a token (OpenSession.token)"
                  : "the token is not known to this name server");
      // The server closes the connection after it.
      StepVerifier.create(client.frames().then()).expectComplete().verify(TIMEOUT);

      // Every other verb as a first frame: refused, and the connection closed.
      for (Row row : rows()) {
        TestClient other = connect(server);
        NameServerFrame refused = other.call(row.request().get()).block(TIMEOUT);
        if (row.verb().equals("HealthCheck")) {
          assertThat(refused.hasAck()).as(row.verb()).isTrue();
        } else {
          assertThat(refused.getError().getStatus().getCode())
              .as(row.verb())
              .isEqualTo(StatusCode.FAILED_PRECONDITION);
        }
      }
    }
    assertThat(server.revision()).isEqualTo(before);
    // Published after the batch that answered: waited for.
    org.awaitility.Awaitility.await()
        .atMost(TIMEOUT)
        .untilAsserted(() -> assertThat(server.metrics().sessions()).isEqualTo(2));
  }

  @Test
  void aServicePrincipalOpensSessionsOnlyForItsAppsAReaderOrAnAdminForAny() {
    TestClient client = connect(server);
    NameServerFrame answer = client.call(openSession("chat", LOBBY.token())).block(TIMEOUT);
    assertThat(answer.getError().getStatus().getCode()).isEqualTo(StatusCode.PERMISSION_DENIED);
    assertThat(answer.getError().getStatus().getMessage())
        .isEqualTo("lobby may not open a session for app \"chat\"");
    open(server, "chat", OPS.token());
    open(server, "skymesh-admin", VIEWER.token());
  }

  @Test
  void principalsAreValidatedWhenConfigured() {
    assertThatThrownBy(() -> new Principal("x", "t", Set.of(), Set.of("game")))
        .hasMessage("principal x: no role");
    assertThatThrownBy(() -> new Principal("x", "t", Set.of(Role.READER), Set.of("game.zone1")))
        .hasMessageContaining("app \"game.zone1\" (expected: 1 to 64 of [A-Za-z0-9_-], or *");
    assertThatThrownBy(
            () ->
                NameServer.builder()
                    .principal(LOBBY)
                    .principal(
                        new Principal("copy", LOBBY.token(), Set.of(Role.READER), Set.of("game"))))
        .hasMessage("principals lobby and copy have the same token");
    assertThat(LOBBY.toString()).doesNotContain(LOBBY.token());
  }
}

package io.skymesh.mesh;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.netty.handler.ssl.SslContext;
import io.netty.pkitesting.X509Bundle;
import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.SkymeshException;
import io.skymesh.mesh.rpc.Methods;
import io.skymesh.mesh.rpc.Reply;
import io.skymesh.nameserver.NameServer;
import io.skymesh.nameserver.Principal;
import io.skymesh.nameserver.Principal.Role;
import io.skymesh.proto.StatusCode;
import io.skymesh.testkit.TestPki;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;

/**
 * The mesh's side of the name server's security: its token, TLS to the name server, and an
 * advertised address for a listener bound to every interface.
 */
class MeshSecurityTest {

  private static final Duration DEADLINE = TestMeshes.DEADLINE;
  private static final Principal GAME =
      new Principal("game-services", "game-secret", Set.of(Role.SERVICE), Set.of("game"));

  private final List<Mesh> meshes = new ArrayList<>();
  private NameServer server;

  @AfterEach
  void close() {
    meshes.forEach(mesh -> mesh.close().block(DEADLINE));
    if (server != null) {
      server.closeNow(DEADLINE);
    }
  }

  private Mesh start(MeshBuilder builder) {
    Mesh mesh = builder.start().block(DEADLINE);
    meshes.add(mesh);
    return mesh;
  }

  private static Methods echo() {
    return Methods.builder().add("Echo", request -> Mono.just(Reply.of(request.payload()))).build();
  }

  /** Two meshes answer each other: the second asks the first's echo. */
  private static void talk(Mesh callee, Mesh caller) {
    TestMeshes.register(callee, "game.zone1.echo/1", echo());
    MeshService client = TestMeshes.register(caller, "game.zone1.client/1");
    caller
        .router(ServiceUrl.parse("game.zone1.echo/1").serviceName())
        .views()
        .filter(view -> view.size() == 1)
        .blockFirst(DEADLINE);
    StepVerifier.create(
            client
                .request(
                    ServiceUrl.parse("game.zone1.echo/1"), "Echo", ByteString.copyFromUtf8("hi"))
                .map(reply -> reply.payload().toStringUtf8()))
        .expectNext("hi")
        .expectComplete()
        .verify(DEADLINE);
  }

  @Test
  void aMeshWithItsTokenWorksAndOneWithoutIsRefusedAtStart() {
    server = NameServer.builder().principal(GAME).start().block(DEADLINE);
    String address = "127.0.0.1:" + server.port();

    Mesh first = start(Mesh.builder("game").nameServer(address).token(GAME.token()));
    Mesh second = start(Mesh.builder("game").nameServer(address).token(GAME.token()));
    talk(first, second);

    StepVerifier.create(Mesh.builder("game").nameServer(address).start())
        .expectErrorSatisfies(
            error -> {
              assertThat(error).isInstanceOf(SkymeshException.class);
              assertThat(((SkymeshException) error).statusCode())
                  .isEqualTo(StatusCode.UNAUTHENTICATED);
              assertThat(error).hasMessageContaining("requires a token");
            })
        .verify(DEADLINE);
    StepVerifier.create(Mesh.builder("chat").nameServer(address).token(GAME.token()).start())
        .expectErrorSatisfies(
            error ->
                assertThat(((SkymeshException) error).statusCode())
                    .isEqualTo(StatusCode.PERMISSION_DENIED))
        .verify(DEADLINE);
  }

  @Test
  void meshesReachATlsNameServer() {
    TestPki pki = TestPki.create();
    X509Bundle identity = pki.issue("localhost", "127.0.0.1");
    server = NameServer.builder().tls(pki.serverContext(identity, true)).start().block(DEADLINE);
    String address = "127.0.0.1:" + server.port();

    Mesh first =
        start(
            Mesh.builder("game")
                .nameServer(address)
                .nameServerTls(pki.clientContext(pki.issue("game-1"))));
    Mesh second =
        start(
            Mesh.builder("game")
                .nameServer(address)
                .nameServerTls(pki.clientContext(pki.issue("game-2"))));
    talk(first, second);
    // Published after the batch that answered: waited for.
    org.awaitility.Awaitility.await()
        .atMost(DEADLINE)
        .untilAsserted(() -> assertThat(server.metrics().sessions()).isEqualTo(2));
  }

  @Test
  void peersTalkOverMutualTlsAndAPlaintextPeerCannotReachThem() {
    TestPki pki = TestPki.create();
    server = NameServer.builder().start().block(DEADLINE);
    String address = "127.0.0.1:" + server.port();
    X509Bundle first = pki.issue("localhost", "127.0.0.1");
    X509Bundle second = pki.issue("localhost", "127.0.0.1");

    Mesh secured = withPeerTls(address, pki.serverContext(first, true), pki.clientContext(first));
    Mesh caller = withPeerTls(address, pki.serverContext(second, true), pki.clientContext(second));
    talk(secured, caller);

    Mesh plain = start(Mesh.builder("game").nameServer(address));
    assertUnreachable(plain, "game.zone1.echo/1", null);
  }

  /** Starts a mesh of app game speaking TLS with its peers. */
  private Mesh withPeerTls(String address, SslContext server, SslContext client) {
    return start(Mesh.builder("game").nameServer(address).peerTls(server, client));
  }

  @Test
  void aPeerWhoseCertificateNamesAnotherHostOrACallerWithoutACertificateIsRefused() {
    TestPki pki = TestPki.create();
    server = NameServer.builder().start().block(DEADLINE);
    String address = "127.0.0.1:" + server.port();
    X509Bundle loopback = pki.issue("localhost", "127.0.0.1");
    X509Bundle elsewhere = pki.issue("echo.example.com");

    // The callee presents a certificate of the right authority but for another host.
    Mesh impostor =
        withPeerTls(address, pki.serverContext(elsewhere, false), pki.clientContext(elsewhere));
    TestMeshes.register(impostor, "game.zone1.echo/1", echo());
    Mesh caller =
        withPeerTls(address, pki.serverContext(loopback, true), pki.clientContext(loopback));
    assertUnreachable(
        caller, "game.zone1.echo/1", "subject alternative names matching IP address 127.0.0.1");

    // Mutual TLS: a caller that trusts the callee but presents no certificate.
    Mesh mutual =
        withPeerTls(address, pki.serverContext(loopback, true), pki.clientContext(loopback));
    TestMeshes.register(mutual, "game.zone1.echo/2", echo());
    Mesh anonymous =
        withPeerTls(address, pki.serverContext(loopback, false), pki.clientContext(null));
    assertUnreachable(anonymous, "game.zone1.echo/2", null);
  }

  /** A request from a new service of {@code caller} to {@code url} fails UNAVAILABLE. */
  private static void assertUnreachable(Mesh caller, String url, String messagePart) {
    MeshService client = TestMeshes.register(caller, "game.zone1.client/" + url.hashCode());
    ServiceUrl target = ServiceUrl.parse(url);
    caller
        .router(target.serviceName())
        .views()
        .filter(view -> view.instance(target).isPresent())
        .blockFirst(DEADLINE);
    StepVerifier.create(client.request(target, "Echo", ByteString.copyFromUtf8("hi")))
        .expectErrorSatisfies(
            error -> {
              assertThat(((SkymeshException) error).statusCode()).isEqualTo(StatusCode.UNAVAILABLE);
              if (messagePart != null) {
                assertThat(error).hasMessageContaining(messagePart);
              }
            })
        .verify(DEADLINE);
  }

  @Test
  void aMeshBoundToEveryInterfaceIsReachableAtItsAdvertisedAddress() {
    server = NameServer.builder().start().block(DEADLINE);
    String address = "127.0.0.1:" + server.port();

    Mesh wildcard =
        start(
            Mesh.builder("game")
                .nameServer(address)
                .bindHost("0.0.0.0")
                .advertisedAddress("127.0.0.1:0"));
    assertThat(wildcard.listenAddress()).startsWith("127.0.0.1:").doesNotEndWith(":0");
    Mesh caller = start(Mesh.builder("game").nameServer(address));
    talk(wildcard, caller);
  }

  @Test
  void bindingEveryInterfaceWithoutAnAdvertisedAddressIsRefused() {
    assertThatThrownBy(() -> Mesh.builder("game").bindHost("0.0.0.0").start())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("bindHost 0.0.0.0 listens on every interface")
        .hasMessageContaining("advertisedAddress");
    assertThatThrownBy(() -> Mesh.builder("game").advertisedAddress("0.0.0.0:7000"))
        .hasMessageContaining("is a wildcard, which no peer can dial");
    assertThatThrownBy(() -> Mesh.builder("game").advertisedAddress("host"))
        .hasMessageContaining("expected: host:port");
  }
}

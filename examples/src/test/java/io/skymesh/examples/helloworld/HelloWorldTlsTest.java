package io.skymesh.examples.helloworld;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.skymesh.core.exceptions.SkymeshException;
import io.skymesh.examples.LoopbackTls;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshBuilder;
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
import reactor.core.publisher.Flux;
import reactor.test.StepVerifier;

/**
 * The helloworld demo over TLS: the name server's listener and every peer connection over mutual
 * TLS, each mesh with a certificate of its own from one test authority; and what is refused.
 */
class HelloWorldTlsTest {

  private static final Duration DEADLINE = Duration.ofSeconds(30);
  private static final TestPki PKI = TestPki.create();
  private static final LoopbackTls TLS = new LoopbackTls(PKI);
  private static final Duration START_TIMEOUT = Duration.ofSeconds(2);
  private static final List<String> NAMES = List.of("world", "mesh", "reactor");

  private final List<Mesh> meshes = new ArrayList<>();
  private NameServer nameServer;

  @AfterEach
  void close() {
    meshes.forEach(mesh -> mesh.close().block(DEADLINE));
    if (nameServer != null) {
      nameServer.closeNow(DEADLINE);
    }
  }

  /** TLS to the name server only: this mesh dials its peers, and listens, in plaintext. */
  private static MeshBuilder nameServerTlsOnly(MeshBuilder mesh) {
    return mesh.nameServerTls(PKI.clientContext(TLS.loopback()));
  }

  @Test
  void greeterAnswersEveryNameInOrderOverMutualTls() {
    List<String> answers = HelloWorld.runDemo(NAMES, TLS::nameServer, TLS::mesh);

    assertThat(answers).containsExactly("Hello, world!", "Hello, mesh!", "Hello, reactor!");
  }

  @Test
  void greeterAnswersOverMutualTlsWithTokensAndPeerTickets() {
    Principal hello =
        new Principal("hello-services", "hello-secret", Set.of(Role.SERVICE), Set.of("hello"));

    List<String> answers =
        HelloWorld.runDemo(
            NAMES,
            nameServer -> TLS.nameServer(nameServer).principal(hello),
            mesh -> TLS.mesh(mesh).token(hello.token()).requirePeerTickets());

    assertThat(answers).containsExactly("Hello, world!", "Hello, mesh!", "Hello, reactor!");
  }

  @Test
  void aPlaintextMeshCannotReachTheTlsNameServer() {
    // A refused handshake looks like an unreachable name server, which start() retries for its
    // start timeout before it fails (shortened here); the error names the last attempt's failure.
    assertThatThrownBy(
            () ->
                HelloWorld.runDemo(
                    NAMES, TLS::nameServer, mesh -> mesh.startTimeout(START_TIMEOUT)))
        .isInstanceOf(SkymeshException.class)
        .hasMessageContaining("unreachable for " + START_TIMEOUT + " (the last attempt: ")
        .satisfies(
            error ->
                assertThat(((SkymeshException) error).statusCode())
                    .isEqualTo(StatusCode.UNAVAILABLE));
  }

  @Test
  void aMeshWithoutACertificateCannotReachTheMutualTlsNameServer() {
    assertThatThrownBy(
            () ->
                HelloWorld.runDemo(
                    NAMES,
                    TLS::nameServer,
                    mesh ->
                        mesh.nameServerTls(PKI.clientContext(null)).startTimeout(START_TIMEOUT)))
        .isInstanceOf(SkymeshException.class)
        .hasMessageContaining("unreachable for " + START_TIMEOUT + " (the last attempt: ")
        .satisfies(
            error ->
                assertThat(((SkymeshException) error).statusCode())
                    .isEqualTo(StatusCode.UNAVAILABLE));
  }

  @Test
  void aPlaintextClientMeshCannotReachTheTlsGreeter() {
    nameServer = TLS.nameServer(NameServer.builder().port(0)).start().block(DEADLINE);
    Mesh greeter = start(TLS.mesh(builder()));
    GreeterServer.register(greeter, GreeterServer.URL).block(DEADLINE);
    // Sees the greeter through the name server (over TLS), but dials its peers in plaintext.
    Mesh outsider = start(nameServerTlsOnly(builder()));
    outsider
        .router(GreeterServer.URL.serviceName())
        .views()
        .filter(view -> view.size() == 1)
        .blockFirst(DEADLINE);

    StepVerifier.create(
            GreeterClient.greet(outsider, GreeterServer.URL, Flux.just("outsider"), DEADLINE))
        .expectErrorSatisfies(
            error -> {
              assertThat(error).isInstanceOf(SkymeshException.class);
              assertThat(((SkymeshException) error).statusCode()).isEqualTo(StatusCode.UNAVAILABLE);
            })
        .verify(DEADLINE);

    // The greeter still answers a mesh that speaks TLS.
    Mesh client = start(TLS.mesh(builder()));
    StepVerifier.create(
            GreeterClient.greet(client, GreeterServer.URL, Flux.just("insider"), DEADLINE))
        .expectNext("Hello, insider!")
        .expectComplete()
        .verify(DEADLINE);
  }

  private MeshBuilder builder() {
    return Mesh.builder("hello").nameServer("127.0.0.1:" + nameServer.port());
  }

  private Mesh start(MeshBuilder builder) {
    Mesh mesh = builder.start().block(DEADLINE);
    meshes.add(mesh);
    return mesh;
  }
}

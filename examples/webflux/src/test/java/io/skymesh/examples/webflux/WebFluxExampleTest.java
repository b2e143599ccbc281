package io.skymesh.examples.webflux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.ServiceOptions;
import io.skymesh.nameserver.NameServer;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Bean;
import org.springframework.core.ParameterizedTypeReference;
import org.springframework.http.MediaType;
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.web.reactive.server.WebTestClient;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;

/**
 * The real application on a random port, against a real embedded name server, called over HTTP with
 * {@link WebTestClient}. BlockHound is on (the testkit): Netty's and Reactor's threads must not
 * block, whatever Spring does on the main thread at startup.
 */
@SpringBootTest(
    classes = {WebFluxExample.class, WebFluxExampleTest.NameServerLifecycle.class},
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
@DirtiesContext
class WebFluxExampleTest {

  private static final Duration DEADLINE = Duration.ofSeconds(30);
  private static final NameServer nameServer = NameServer.builder().port(0).start().block(DEADLINE);

  @LocalServerPort private int port;

  private WebTestClient client;

  @DynamicPropertySource
  static void meshProperties(DynamicPropertyRegistry registry) {
    registry.add("skymesh.name-server", () -> "127.0.0.1:" + nameServer.port());
  }

  @BeforeEach
  void client() {
    client =
        WebTestClient.bindToServer()
            .baseUrl("http://127.0.0.1:" + port)
            .responseTimeout(DEADLINE)
            .build();
  }

  @Test
  void helloReturnsTheMeshReply() {
    client
        .get()
        .uri("/hello/alice")
        .exchange()
        .expectStatus()
        .isOk()
        .expectBody(String.class)
        .isEqualTo("Hello, alice! (from hello.web.greeter/1)");
  }

  @Autowired Mesh appMesh;

  @Test
  void helloReachesAGreeterInAnotherProcessOverTheNetwork() {
    Mesh remote = mesh();
    try {
      ServiceUrl url = Greetings.GREETER.instance("remote");
      remote
          .register(
              url,
              message -> Mono.empty(),
              ServiceOptions.defaults().withMethods(Greetings.methods(url)))
          .block(DEADLINE);
      // Membership reaches the application's mesh as an event: the request names the instance
      // only once the application's router has it.
      await()
          .atMost(DEADLINE)
          .until(() -> appMesh.router(Greetings.GREETER).currentView().instance(url).isPresent());

      client
          .get()
          .uri("/hello/bob?instance=remote")
          .exchange()
          .expectStatus()
          .isOk()
          .expectBody(String.class)
          .isEqualTo("Hello, bob! (from hello.web.greeter/remote)");
    } finally {
      remote.closeGracefully(Duration.ofSeconds(5)).block(DEADLINE);
    }
  }

  @Test
  void membersStreamsJoinsAndLeavesAsServerSentEvents() {
    ServiceName peers = ServiceName.parse("hello.web.peer");
    Mesh other = mesh();
    try {
      Flux<ServerSentEvent<MeshController.Member>> events =
          client
              .get()
              .uri("/members/" + peers)
              .accept(MediaType.TEXT_EVENT_STREAM)
              .exchange()
              .expectStatus()
              .isOk()
              .returnResult(
                  new ParameterizedTypeReference<ServerSentEvent<MeshController.Member>>() {})
              .getResponseBody();
      AtomicReference<MeshService> peer = new AtomicReference<>();

      StepVerifier.create(
              events
                  .filter(e -> e.data() != null)
                  .map(e -> e.event() + " " + e.data().type() + " " + e.data().url()))
          .then(
              () ->
                  peer.set(
                      other
                          .register(ServiceUrl.parse("hello.web.peer/1"), m -> Mono.empty())
                          .block(DEADLINE)))
          .expectNext("ADDED ADDED hello.web.peer/1")
          .then(() -> peer.get().close().block(DEADLINE))
          .expectNext("REMOVED REMOVED hello.web.peer/1")
          .thenCancel()
          .verify(DEADLINE);
    } finally {
      other.closeGracefully(Duration.ofSeconds(5)).block(DEADLINE);
    }
  }

  @Test
  void theApplicationsEndpointsAreInTheMesh() {
    Mesh observer = mesh();
    try {
      assertThat(
              observer
                  .router(Greetings.GREETER)
                  .firstView()
                  .block(DEADLINE)
                  .instance(Greetings.GREETER.instance("1")))
          .isPresent();
      assertThat(
              observer
                  .router(Greetings.GATEWAY.serviceName())
                  .firstView()
                  .block(DEADLINE)
                  .instance(Greetings.GATEWAY))
          .isPresent();
    } finally {
      observer.close().block(DEADLINE);
    }
  }

  private static Mesh mesh() {
    return Mesh.builder("hello")
        .nameServer("127.0.0.1:" + nameServer.port())
        .start()
        .block(DEADLINE);
  }

  /**
   * Closes the name server when the application is torn down (after its lifecycle stopped, so after
   * the mesh's graceful close), which a JUnit {@code @AfterAll} would do too early.
   */
  @TestConfiguration(proxyBeanMethods = false)
  static class NameServerLifecycle {
    @Bean
    DisposableBean closeNameServer() {
      return () -> nameServer.closeNow(DEADLINE);
    }
  }
}

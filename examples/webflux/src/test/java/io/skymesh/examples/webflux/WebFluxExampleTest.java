package io.skymesh.examples.webflux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import brave.Span.Kind;
import brave.handler.MutableSpan;
import brave.handler.SpanHandler;
import brave.propagation.TraceContext;
import io.micrometer.observation.ObservationRegistry;
import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.ServiceOptions;
import io.skymesh.nameserver.NameServer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
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
    classes = {
      WebFluxExample.class,
      WebFluxExampleTest.NameServerLifecycle.class,
      WebFluxExampleTest.SpanCollector.class
    },
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

  @Autowired ObservationRegistry observationRegistry;
  @Autowired Spans spans;

  @Test
  void oneTraceFromTheHttpRequestThroughTheMeshRequestToTheInProcessHandler() {
    client
        .get()
        .uri("/hello/tracy")
        .exchange()
        .expectStatus()
        .isOk()
        .expectBody(String.class)
        .isEqualTo("Hello, tracy! (from hello.web.greeter/1)");

    assertOneTrace("/hello/tracy", "hello.web.greeter/1");
  }

  @Test
  void oneTraceFromTheHttpRequestOverTcpToAGreeterInAnotherMesh() {
    // Another process with the same tracing setup: here, the application's registry.
    Mesh remote =
        Mesh.builder("hello")
            .nameServer("127.0.0.1:" + nameServer.port())
            .observationRegistry(observationRegistry)
            .start()
            .block(DEADLINE);
    try {
      ServiceUrl url = Greetings.GREETER.instance("traced");
      remote
          .register(
              url,
              message -> Mono.empty(),
              ServiceOptions.defaults().withMethods(Greetings.methods(url)))
          .block(DEADLINE);
      await()
          .atMost(DEADLINE)
          .until(() -> appMesh.router(Greetings.GREETER).currentView().instance(url).isPresent());

      client
          .get()
          .uri("/hello/trent?instance=traced")
          .exchange()
          .expectStatus()
          .isOk()
          .expectBody(String.class)
          .isEqualTo("Hello, trent! (from hello.web.greeter/traced)");

      assertOneTrace("/hello/trent", url.toString());
    } finally {
      remote.closeGracefully(Duration.ofSeconds(5)).block(DEADLINE);
    }
  }

  /**
   * The HTTP server span of {@code path} is the root of a trace in which the mesh's client span is
   * its child and the greeter's server span the client span's child.
   */
  private void assertOneTrace(String path, String greeter) {
    String call = "request " + Greetings.GREETER + "/" + Greetings.SAY_HELLO;
    MutableSpan http =
        await()
            .atMost(DEADLINE)
            .until(
                () ->
                    spans.finished.stream()
                        .filter(s -> path.equals(s.tag("http.url")))
                        .findFirst()
                        .orElse(null),
                Objects::nonNull);
    List<MutableSpan> trace =
        await()
            .atMost(DEADLINE)
            .until(
                () ->
                    spans.finished.stream()
                        .filter(s -> s.traceId().equals(http.traceId()))
                        .toList(),
                t -> t.size() >= 3);
    assertThat(trace).hasSize(3);
    assertThat(http.kind()).isEqualTo(Kind.SERVER);
    assertThat(http.parentId()).as("the HTTP span is the root").isNull();
    MutableSpan client = only(trace, call, Kind.CLIENT);
    MutableSpan server = only(trace, call, Kind.SERVER);
    assertThat(client.parentId()).isEqualTo(http.id());
    assertThat(client.tag("destination")).isEqualTo(greeter);
    assertThat(server.parentId()).isEqualTo(client.id());
    assertThat(server.tag("status")).isEqualTo("OK");
  }

  private static MutableSpan only(List<MutableSpan> trace, String name, Kind kind) {
    List<MutableSpan> matching =
        trace.stream().filter(s -> name.equals(s.name()) && s.kind() == kind).toList();
    assertThat(matching).as(name + " " + kind + " in " + trace).hasSize(1);
    return matching.get(0);
  }

  @Test
  @SuppressWarnings("unchecked")
  void healthShowsTheMeshSession() {
    Map<String, Object> health =
        client
            .get()
            .uri("/actuator/health")
            .exchange()
            .expectStatus()
            .isOk()
            .expectBody(Map.class)
            .returnResult()
            .getResponseBody();
    Map<String, Object> skymesh =
        (Map<String, Object>) ((Map<String, Object>) health.get("components")).get("skymesh");
    assertThat(skymesh).containsEntry("status", "UP");
    assertThat((Map<String, Object>) skymesh.get("details"))
        .containsEntry("session", "OPEN")
        .containsEntry("nameServer", "127.0.0.1:" + nameServer.port());
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
  /** Finished spans, collected in memory by the tracer Spring Boot configures. */
  static final class Spans extends SpanHandler {
    final List<MutableSpan> finished = new CopyOnWriteArrayList<>();

    @Override
    public boolean end(TraceContext context, MutableSpan span, Cause cause) {
      finished.add(span);
      return true;
    }
  }

  /** Hands Spring Boot's Brave tracer the in-memory span handler. */
  @TestConfiguration(proxyBeanMethods = false)
  static class SpanCollector {
    @Bean
    Spans spans() {
      return new Spans();
    }
  }

  @TestConfiguration(proxyBeanMethods = false)
  static class NameServerLifecycle {
    @Bean
    DisposableBean closeNameServer() {
      return () -> nameServer.closeNow(DEADLINE);
    }
  }
}

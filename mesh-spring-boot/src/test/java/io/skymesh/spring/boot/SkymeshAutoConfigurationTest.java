package io.skymesh.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationHandler;
import io.micrometer.observation.ObservationRegistry;
import io.netty.pkitesting.X509Bundle;
import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.MessageHandler;
import io.skymesh.mesh.NameRouter;
import io.skymesh.mesh.ServiceOptions;
import io.skymesh.mesh.internal.DefaultMesh;
import io.skymesh.nameserver.NameServer;
import io.skymesh.nameserver.Principal;
import io.skymesh.testkit.TestPki;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.actuate.health.Health;
import org.springframework.boot.actuate.health.HealthIndicator;
import org.springframework.boot.actuate.health.Status;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;

/** The auto-configuration in a real application context against a real embedded name server. */
class SkymeshAutoConfigurationTest {

  private static final Duration DEADLINE = Duration.ofSeconds(30);
  private static final ServiceName ECHO = ServiceName.parse("shop.test.echo");

  private NameServer nameServer;
  private Mesh observer;
  private ApplicationContextRunner runner;

  @BeforeEach
  void start() {
    nameServer = NameServer.builder().port(0).start().block(DEADLINE);
    observer =
        Mesh.builder("shop").nameServer("127.0.0.1:" + nameServer.port()).start().block(DEADLINE);
    runner =
        new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(SkymeshAutoConfiguration.class))
            .withPropertyValues(
                "skymesh.app-id=shop",
                "skymesh.name-server=127.0.0.1:" + nameServer.port(),
                "skymesh.close-timeout=5s");
  }

  @AfterEach
  void stop() {
    observer.close().block(DEADLINE);
    nameServer.closeNow(DEADLINE);
  }

  @Test
  void withoutAnAppIdNothingIsConfigured() {
    new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(SkymeshAutoConfiguration.class))
        .run(context -> assertThat(context).doesNotHaveBean(Mesh.class));
  }

  @Test
  void meshIsStartedFromTheProperties() {
    runner
        .withPropertyValues("skymesh.host=127.0.0.1", "skymesh.request-timeout=3s")
        .run(
            context -> {
              assertThat(context).hasSingleBean(Mesh.class);
              Mesh mesh = context.getBean(Mesh.class);
              assertThat(mesh.appId()).isEqualTo("shop");
              assertThat(mesh.listenAddress()).startsWith("127.0.0.1:");
            });
  }

  @Test
  void endpointsAreRegisteredWhileTheContextRunsAndDeregisteredWhenItStops() {
    NameRouter echo = observer.router(ECHO);
    StepVerifier.create(echo.members().map(e -> e.type() + " " + e.instance().url()))
        .then(
            () ->
                runner
                    .withUserConfiguration(Endpoints.class)
                    .run(
                        context -> {
                          await().atMost(DEADLINE).until(() -> echo.currentView().size() == 2);
                          assertThat(echo.currentView().instance(ECHO.instance("1")))
                              .hasValueSatisfying(
                                  i -> assertThat(i.attributes()).containsEntry("zone", "a"));
                          assertThat(
                                  context
                                      .getBean(MeshEndpointRegistrar.class)
                                      .service(ECHO.instance("2")))
                              .isPresent();
                        }))
        .expectNextCount(2)
        .expectNext("REMOVED shop.test.echo/1")
        .expectNext("REMOVED shop.test.echo/2")
        .thenCancel()
        .verify(DEADLINE);
  }

  @Test
  void aReplyingEndpointAnswersFromItsOwnService() {
    List<String> replies = new CopyOnWriteArrayList<>();
    MeshService client =
        observer
            .register(
                ServiceUrl.parse("shop.test.client/1"),
                MessageHandler.of(m -> replies.add(m.source() + " " + m.payload().toStringUtf8())))
            .block(DEADLINE);
    runner
        .withUserConfiguration(Endpoints.class)
        .run(
            context -> {
              await().atMost(DEADLINE).until(() -> observer.router(ECHO).currentView().size() == 2);
              client.sendTo(ECHO.instance("2"), ByteString.copyFromUtf8("ping")).block(DEADLINE);
              await()
                  .atMost(DEADLINE)
                  .until(() -> replies.equals(List.of("shop.test.echo/2 ping")));
            });
  }

  @Test
  void nameServersListReplacesTheSingleNameServer() throws IOException {
    int unused;
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      unused = socket.getLocalPort();
    }
    NameRouter echo = observer.router(ECHO);
    runner
        .withPropertyValues(
            "skymesh.name-server=127.0.0.1:" + unused,
            "skymesh.name-servers=127.0.0.1:" + unused + ", 127.0.0.1:" + nameServer.port())
        .withUserConfiguration(Endpoints.class)
        .run(
            context -> {
              assertThat(context).hasNotFailed();
              await().atMost(DEADLINE).until(() -> echo.currentView().size() == 2);
            });
  }

  @Test
  void badNameServersFailTheStartWithTheValueAndTheExpectation() {
    runner
        .withPropertyValues("skymesh.name-servers=127.0.0.1:1,nowhere")
        .run(
            context ->
                assertThat(context)
                    .getFailure()
                    .rootCause()
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage(
                        "nameServers: '127.0.0.1:1,nowhere' ('nowhere' is not host:port;"
                            + " expected: host:port[,host:port...])"));
  }

  @Test
  void anApplicationMeshBeanIsUsedInsteadOfOurs() {
    runner
        .withUserConfiguration(OwnMesh.class)
        .run(
            context -> {
              assertThat(context).hasSingleBean(Mesh.class);
              assertThat(context.getBean(Mesh.class)).isSameAs(OwnMesh.mesh);
              assertThat(context.getBean(MeshEndpointRegistrar.class)).isNotNull();
            });
  }

  @Test
  void theApplicationsRegistriesAreTheMeshs() {
    MeshService client =
        observer
            .register(ServiceUrl.parse("shop.test.client/1"), m -> Mono.empty())
            .block(DEADLINE);
    runner
        .withUserConfiguration(Endpoints.class, Registries.class)
        .run(
            context -> {
              await().atMost(DEADLINE).until(() -> observer.router(ECHO).currentView().size() == 2);
              client.sendTo(ECHO.instance("2"), ByteString.copyFromUtf8("ping")).block(DEADLINE);
              // The endpoint's mesh observed the message it handled and the answer it sent.
              await()
                  .atMost(DEADLINE)
                  .until(
                      () ->
                          Registries.stopped.containsAll(
                              List.of("skymesh.server.requests", "skymesh.client.requests")));
              // And metered the answer it sent in the application's registry.
              MeterRegistry meters = context.getBean(MeterRegistry.class);
              await()
                  .atMost(DEADLINE)
                  .until(
                      () ->
                          meters.find("skymesh.mesh.sends").counters().stream()
                                  .mapToDouble(c -> c.count())
                                  .sum()
                              >= 1);
            });
  }

  @Test
  void securityPropertiesReachTheMesh(@TempDir Path dir) throws IOException {
    TestPki pki = TestPki.create();
    X509Bundle identity = pki.issue("localhost", "127.0.0.1");
    X509Bundle client = pki.issue("shop-1");
    NameServer secured =
        NameServer.builder()
            .tls(pki.serverContext(identity, true))
            .principal(
                new Principal(
                    "shop", "shop-secret", Set.of(Principal.Role.SERVICE), Set.of("shop")))
            .start()
            .block(DEADLINE);
    try {
      new ApplicationContextRunner()
          .withConfiguration(AutoConfigurations.of(SkymeshAutoConfiguration.class))
          .withPropertyValues(
              "skymesh.app-id=shop",
              "skymesh.name-server=127.0.0.1:" + secured.port(),
              "skymesh.host=0.0.0.0",
              "skymesh.advertised-address=127.0.0.1:0",
              "skymesh.token=shop-secret",
              "skymesh.name-server-tls.ca="
                  + Files.writeString(dir.resolve("ca.pem"), pki.authority().getCertificatePEM()),
              "skymesh.name-server-tls.cert="
                  + Files.writeString(dir.resolve("shop.pem"), client.getCertificatePathPEM()),
              "skymesh.name-server-tls.key="
                  + Files.writeString(dir.resolve("shop.key"), client.getPrivateKeyPEM()),
              "skymesh.peer-tls.ca=" + dir.resolve("ca.pem"),
              "skymesh.peer-tls.cert="
                  + Files.writeString(dir.resolve("peer.pem"), identity.getCertificatePathPEM()),
              "skymesh.peer-tls.key="
                  + Files.writeString(dir.resolve("peer.key"), identity.getPrivateKeyPEM()),
              "skymesh.peer-tickets=true",
              "skymesh.close-timeout=5s")
          .run(
              context -> {
                assertThat(context).hasNotFailed().hasSingleBean(Mesh.class);
                Mesh mesh = context.getBean(Mesh.class);
                assertThat(mesh.listenAddress()).startsWith("127.0.0.1:");
                // It got its peer ticket at start, and its listener speaks TLS.
                assertThat(((DefaultMesh) mesh).tickets().ticketsIssued()).isEqualTo(1);
                assertThat(((DefaultMesh) mesh).transport().config().serverTls()).isNotNull();
                // Published after the batch that answered: waited for.
                org.awaitility.Awaitility.await()
                    .atMost(DEADLINE)
                    .untilAsserted(() -> assertThat(secured.metrics().sessions()).isEqualTo(1));
              });
    } finally {
      secured.closeNow(DEADLINE);
    }
  }

  @Test
  void healthIsUpWhileTheSessionIsOpenAndDownWhileTheNameServerIsAway() {
    runner.run(
        context -> {
          HealthIndicator indicator =
              context.getBean("skymeshHealthIndicator", HealthIndicator.class);
          Health up = indicator.health();
          assertThat(up.getStatus()).isEqualTo(Status.UP);
          assertThat(up.getDetails())
              .containsEntry("session", "OPEN")
              .containsEntry("nameServer", "127.0.0.1:" + nameServer.port())
              .containsEntry("appId", "shop")
              .containsEntry("listenAddress", context.getBean(Mesh.class).listenAddress());

          int port = nameServer.port();
          nameServer.closeNow(DEADLINE);
          await().atMost(DEADLINE).until(() -> indicator.health().getStatus().equals(Status.DOWN));
          assertThat(indicator.health().getDetails())
              .containsEntry("session", "CONNECTING")
              .doesNotContainKey("nameServer");

          nameServer = NameServer.builder().port(port).start().block(DEADLINE);
          await().atMost(DEADLINE).until(() -> indicator.health().getStatus().equals(Status.UP));
        });
  }

  @Test
  void aClosedMeshIsOutOfService() {
    Mesh mesh =
        Mesh.builder("shop").nameServer("127.0.0.1:" + nameServer.port()).start().block(DEADLINE);
    mesh.close().block(DEADLINE);
    Health health = new SkymeshHealthIndicator(mesh).health();
    assertThat(health.getStatus()).isEqualTo(Status.OUT_OF_SERVICE);
    assertThat(health.getDetails()).containsEntry("session", "CLOSED");
  }

  @Test
  void withoutTheActuatorThereIsNoHealthIndicator() {
    runner
        .withClassLoader(new FilteredClassLoader(HealthIndicator.class))
        .run(
            context -> {
              assertThat(context).hasSingleBean(Mesh.class);
              assertThat(context).doesNotHaveBean("skymeshHealthIndicator");
            });
  }

  /** An application's registries: the observation registry records what it saw end. */
  @Configuration(proxyBeanMethods = false)
  static class Registries {
    static final List<String> stopped = new CopyOnWriteArrayList<>();

    @Bean
    ObservationRegistry observationRegistry() {
      ObservationRegistry registry = ObservationRegistry.create();
      registry
          .observationConfig()
          .observationHandler(
              new ObservationHandler<>() {
                @Override
                public void onStop(Observation.Context context) {
                  stopped.add(context.getName());
                }

                @Override
                public boolean supportsContext(Observation.Context context) {
                  return true;
                }
              });
      return registry;
    }

    @Bean
    MeterRegistry meterRegistry() {
      return new SimpleMeterRegistry();
    }
  }

  @Configuration(proxyBeanMethods = false)
  static class Endpoints {
    @Bean
    MeshEndpoint echoOne() {
      return MeshEndpoint.of(ECHO.instance("1"), m -> Mono.empty())
          .withOptions(ServiceOptions.defaults().withAttributes(Map.of("zone", "a")));
    }

    @Bean
    MeshEndpoint echoTwo() {
      return MeshEndpoint.replying(
          ECHO.instance("2"), (self, message) -> self.sendTo(message.source(), message.payload()));
    }
  }

  @Configuration(proxyBeanMethods = false)
  static class OwnMesh {
    static Mesh mesh;

    @Bean(destroyMethod = "")
    Mesh ownMesh(SkymeshProperties properties) {
      mesh =
          Mesh.builder("shop")
              .nameServer(properties.getNameServer())
              .start()
              .block(Duration.ofSeconds(30));
      return mesh;
    }
  }
}

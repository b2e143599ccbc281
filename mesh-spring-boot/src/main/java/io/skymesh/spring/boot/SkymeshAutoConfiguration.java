package io.skymesh.spring.boot;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.observation.ObservationRegistry;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshBuilder;
import java.io.File;
import java.time.Duration;
import javax.net.ssl.SSLException;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.actuate.health.HealthIndicator;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Creates the application's {@link Mesh} from {@code skymesh.*} properties (when {@code
 * skymesh.app-id} is set and no {@code Mesh} bean is defined) and a {@link MeshEndpointRegistrar}
 * that registers every {@link MeshEndpoint} bean while the context runs and closes the mesh
 * gracefully when it stops.
 *
 * <p>With the actuator on the classpath it adds {@link SkymeshHealthIndicator} (the {@code skymesh}
 * health contributor) unless the application defines a bean of that name.
 *
 * <p>Creating the mesh is a blocking edge: the bean factory needs the started {@code Mesh} (its
 * listener bound, its name-server session open) before it can hand it to other beans, so the
 * factory method waits for {@code start()} on Spring's starting thread, at most {@code
 * skymesh.start-timeout}. Nothing else blocks.
 */
@AutoConfiguration(
    afterName = {
      "org.springframework.boot.actuate.autoconfigure.metrics.CompositeMeterRegistryAutoConfiguration",
      "org.springframework.boot.actuate.autoconfigure.observation.ObservationAutoConfiguration"
    })
@ConditionalOnClass(Mesh.class)
@ConditionalOnProperty(prefix = "skymesh", name = "app-id")
@EnableConfigurationProperties(SkymeshProperties.class)
public class SkymeshAutoConfiguration {

  /** Created by Spring. */
  public SkymeshAutoConfiguration() {}

  /**
   * The started mesh. Closed by the {@link MeshEndpointRegistrar}, not by a destroy method. It
   * registers its meters in the application's {@code MeterRegistry} and observes its calls with the
   * application's {@code ObservationRegistry}, when it has one of each (with the actuator and
   * Micrometer Tracing, the mesh's spans join the application's traces).
   *
   * @param properties the {@code skymesh.*} properties
   * @param meterRegistries the application's meter registry, if it has one
   * @param observationRegistries the application's observation registry, if it has one
   * @return the started mesh
   */
  @Bean(destroyMethod = "")
  @ConditionalOnMissingBean
  public Mesh skymesh(
      SkymeshProperties properties,
      ObjectProvider<MeterRegistry> meterRegistries,
      ObjectProvider<ObservationRegistry> observationRegistries) {
    Duration startTimeout = properties.getStartTimeout();
    MeshBuilder builder = Mesh.builder(properties.getAppId());
    meterRegistries.ifUnique(builder::meterRegistry);
    observationRegistries.ifUnique(builder::observationRegistry);
    String nameServers = properties.getNameServers();
    if (nameServers != null && !nameServers.isBlank()) {
      builder.nameServers(nameServers);
    } else {
      builder.nameServer(properties.getNameServer());
    }
    if (properties.getAdvertisedAddress() != null) {
      builder.advertisedAddress(properties.getAdvertisedAddress());
    }
    if (properties.getToken() != null) {
      builder.token(properties.getToken());
    }
    SkymeshProperties.NameServerTls tls = properties.getNameServerTls();
    if (tls.isEnabled()) {
      builder.nameServerTls(clientContext("skymesh.name-server-tls", tls, true));
    }
    SkymeshProperties.PeerTls peerTls = properties.getPeerTls();
    if (peerTls.isEnabled()) {
      builder.peerTls(
          peerServerContext(peerTls),
          clientContext("skymesh.peer-tls", peerTls, peerTls.isMutual()));
    }
    if (properties.isPeerTickets()) {
      builder.requirePeerTickets();
    }
    return builder
        .host(properties.getHost())
        .port(properties.getPort())
        .sessionTtl(properties.getSessionTtl())
        .requestTimeout(properties.getRequestTimeout())
        .startTimeout(startTimeout)
        .start()
        .block(startTimeout.plusSeconds(5));
  }

  /**
   * A client's TLS context from {@code files}: their authorities trusted (the JVM's if none), and
   * their certificate and key presented when {@code present}.
   *
   * @param property the properties' prefix, for messages
   */
  static SslContext clientContext(
      String property, SkymeshProperties.PemFiles files, boolean present) {
    if (present && (files.getCert() == null) != (files.getKey() == null)) {
      throw new IllegalArgumentException(property + ": mutual TLS needs both cert and key");
    }
    try {
      SslContextBuilder context = SslContextBuilder.forClient();
      if (files.getCa() != null) {
        context.trustManager(new File(files.getCa()));
      }
      if (present && files.getCert() != null) {
        context.keyManager(new File(files.getCert()), new File(files.getKey()));
      }
      return context.build();
    } catch (SSLException | IllegalArgumentException e) {
      throw new IllegalArgumentException(property + ": " + e.getMessage(), e);
    }
  }

  /** The listener's TLS context of {@code skymesh.peer-tls.*}: reads its PEM files. */
  static SslContext peerServerContext(SkymeshProperties.PeerTls tls) {
    if (tls.getCert() == null || tls.getKey() == null) {
      throw new IllegalArgumentException("skymesh.peer-tls: needs both cert and key");
    }
    try {
      SslContextBuilder context =
          SslContextBuilder.forServer(new File(tls.getCert()), new File(tls.getKey()));
      if (tls.isMutual()) {
        context.clientAuth(ClientAuth.REQUIRE);
      }
      if (tls.getCa() != null) {
        context.trustManager(new File(tls.getCa()));
      }
      return context.build();
    } catch (SSLException | IllegalArgumentException e) {
      throw new IllegalArgumentException("skymesh.peer-tls: " + e.getMessage(), e);
    }
  }

  /**
   * Registers the application's endpoints and closes the mesh with the context.
   *
   * @param mesh the mesh
   * @param endpoints the application's {@link MeshEndpoint} beans, in their order
   * @param properties the {@code skymesh.*} properties
   * @return the registrar
   */
  @Bean
  @ConditionalOnMissingBean
  public MeshEndpointRegistrar meshEndpointRegistrar(
      Mesh mesh, ObjectProvider<MeshEndpoint> endpoints, SkymeshProperties properties) {
    return new MeshEndpointRegistrar(
        mesh,
        endpoints.orderedStream().toList(),
        properties.getStartTimeout(),
        properties.getCloseTimeout());
  }

  /** The mesh's health indicator, when the application has the actuator. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(HealthIndicator.class)
  static class HealthConfiguration {

    /**
     * The {@code skymesh} health contributor.
     *
     * @param mesh the mesh
     * @return the indicator
     */
    @Bean
    @ConditionalOnMissingBean(name = "skymeshHealthIndicator")
    SkymeshHealthIndicator skymeshHealthIndicator(Mesh mesh) {
      return new SkymeshHealthIndicator(mesh);
    }
  }
}

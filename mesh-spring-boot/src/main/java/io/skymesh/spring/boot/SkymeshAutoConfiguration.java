package io.skymesh.spring.boot;

import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshBuilder;
import java.time.Duration;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;

/**
 * Creates the application's {@link Mesh} from {@code skymesh.*} properties (when {@code
 * skymesh.app-id} is set and no {@code Mesh} bean is defined) and a {@link MeshEndpointRegistrar}
 * that registers every {@link MeshEndpoint} bean while the context runs and closes the mesh
 * gracefully when it stops.
 *
 * <p>Creating the mesh is a blocking edge: the bean factory needs the started {@code Mesh} (its
 * listener bound, its name-server session open) before it can hand it to other beans, so the
 * factory method waits for {@code start()} on Spring's starting thread, at most {@code
 * skymesh.start-timeout}. Nothing else blocks.
 */
@AutoConfiguration
@ConditionalOnClass(Mesh.class)
@ConditionalOnProperty(prefix = "skymesh", name = "app-id")
@EnableConfigurationProperties(SkymeshProperties.class)
public class SkymeshAutoConfiguration {

  /** Created by Spring. */
  public SkymeshAutoConfiguration() {}

  /**
   * The started mesh. Closed by the {@link MeshEndpointRegistrar}, not by a destroy method.
   *
   * @param properties the {@code skymesh.*} properties
   * @return the started mesh
   */
  @Bean(destroyMethod = "")
  @ConditionalOnMissingBean
  public Mesh skymesh(SkymeshProperties properties) {
    Duration startTimeout = properties.getStartTimeout();
    MeshBuilder builder = Mesh.builder(properties.getAppId());
    String nameServers = properties.getNameServers();
    if (nameServers != null && !nameServers.isBlank()) {
      builder.nameServers(nameServers);
    } else {
      builder.nameServer(properties.getNameServer());
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
}

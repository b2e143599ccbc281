package io.skymesh.spring.boot;

import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshSession;
import java.util.Objects;
import org.springframework.boot.actuate.health.Health;
import org.springframework.boot.actuate.health.HealthIndicator;

/**
 * The mesh's health, from its name-server session ({@link Mesh#session()}): {@code UP} while the
 * session is open, {@code DOWN} while it is being (re)opened, {@code OUT_OF_SERVICE} once the mesh
 * is closed. Details: the session's state, the name server it is open on, the configured name
 * servers, the mesh's application, process id and listen address.
 *
 * <p>Reads the session's state only: never blocks, never calls the name server.
 */
public class SkymeshHealthIndicator implements HealthIndicator {

  private final Mesh mesh;

  /**
   * Creates the indicator.
   *
   * @param mesh the mesh whose session it reports
   */
  public SkymeshHealthIndicator(Mesh mesh) {
    this.mesh = Objects.requireNonNull(mesh, "mesh");
  }

  @Override
  public Health health() {
    MeshSession session = mesh.session();
    Health.Builder health =
        switch (session.state()) {
          case OPEN -> Health.up().withDetail("nameServer", session.nameServer());
          case CONNECTING -> Health.down();
          case CLOSED -> Health.outOfService();
        };
    return health
        .withDetail("session", session.state().name())
        .withDetail("nameServers", session.nameServers())
        .withDetail("appId", mesh.appId())
        .withDetail("processId", mesh.processId())
        .withDetail("listenAddress", String.valueOf(mesh.listenAddress()))
        .build();
  }
}

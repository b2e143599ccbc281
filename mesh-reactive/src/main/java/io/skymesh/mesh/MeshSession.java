package io.skymesh.mesh;

import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The state of a mesh's name-server session at one instant, as {@link Mesh#session()} reads it: for
 * health checks and dashboards.
 *
 * @param state open, being (re)opened, or closed with the mesh
 * @param nameServer the node ({@code host:port}) the session is open on; {@code null} unless {@link
 *     State#OPEN}
 * @param nameServers the configured nodes, {@code host:port[,host:port...]}
 */
public record MeshSession(State state, @Nullable String nameServer, String nameServers) {

  /** Where the session stands. */
  public enum State {
    /** Open on a node: registrations, views and elections are live. */
    OPEN,
    /**
     * Being opened, or reopened after the node was lost: peers still talk to each other, but
     * registrations and view changes wait for the session, and the name server drops this mesh's
     * instances if it stays away longer than the session TTL.
     */
    CONNECTING,
    /** The mesh is closed (or closing). */
    CLOSED
  }

  /** Checks the fields. */
  public MeshSession {
    Objects.requireNonNull(state, "state");
    Objects.requireNonNull(nameServers, "nameServers");
    if ((state == State.OPEN) != (nameServer != null)) {
      throw new IllegalArgumentException(
          "nameServer: " + nameServer + " (expected: a node exactly when the state is OPEN)");
    }
  }

  /** Whether the session is open now. */
  public boolean isOpen() {
    return state == State.OPEN;
  }
}

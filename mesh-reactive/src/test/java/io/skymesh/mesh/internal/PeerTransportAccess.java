package io.skymesh.mesh.internal;

import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.internal.transport.PeerConnection;
import java.util.List;

/** Reads a mesh's transport metrics in tests. */
final class PeerTransportAccess {

  private final DefaultMesh mesh;

  PeerTransportAccess(Mesh mesh) {
    this.mesh = (DefaultMesh) mesh;
  }

  int openConnections() {
    return mesh.transport().openConnections();
  }

  List<PeerConnection> connections() {
    return mesh.transport().connections();
  }
}

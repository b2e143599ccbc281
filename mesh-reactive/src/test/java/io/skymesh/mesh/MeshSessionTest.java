package io.skymesh.mesh;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.skymesh.nameserver.NameServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link Mesh#session()} follows the name-server session: open, lost and reopened, closed. */
class MeshSessionTest {

  private final TestMeshes fixture = TestMeshes.withNameServer();

  @AfterEach
  void tearDown() {
    fixture.close();
  }

  @Test
  void sessionIsOpenThenConnectingWhileTheNameServerIsAwayThenOpenAgainThenClosed() {
    int port = fixture.nameServer().port();
    String node = "127.0.0.1:" + port;
    Mesh mesh = fixture.mesh();

    assertThat(mesh.session()).isEqualTo(new MeshSession(MeshSession.State.OPEN, node, node));
    assertThat(mesh.session().isOpen()).isTrue();

    fixture.nameServer().closeNow(TestMeshes.DEADLINE);
    await()
        .atMost(TestMeshes.DEADLINE)
        .until(() -> mesh.session().state() == MeshSession.State.CONNECTING);
    assertThat(mesh.session().nameServer()).isNull();
    assertThat(mesh.session().nameServers()).isEqualTo(node);

    NameServer restarted = fixture.startNameServer(port);
    assertThat(restarted.port()).isEqualTo(port);
    await().atMost(TestMeshes.DEADLINE).until(() -> mesh.session().isOpen());
    assertThat(mesh.session().nameServer()).isEqualTo(node);

    mesh.close().block(TestMeshes.DEADLINE);
    assertThat(mesh.session().state()).isEqualTo(MeshSession.State.CLOSED);
  }
}

package io.skymesh.mesh;

import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;

import org.junit.jupiter.api.Test;

/** {@code MeshBuilder.nameServers} refuses a bad list with the input and the expectation. */
class MeshBuilderNameServersTest {

  @Test
  void goodListsAreAccepted() {
    Mesh.builder("game").nameServers("a:9099,b:9099, c:9099");
    Mesh.builder("game").nameServers("127.0.0.1:1");
    Mesh.builder("game").nameServers("[::1]:9099,10.0.0.2:65535");
  }

  @Test
  void badListsAreRefusedNamingTheBadEntry() {
    MeshBuilder builder = Mesh.builder("game");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder.nameServers(""))
        .withMessage("nameServers: '' ('' is not host:port; expected: host:port[,host:port...])");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder.nameServers("a:1,,b:2"))
        .withMessage(
            "nameServers: 'a:1,,b:2' ('' is not host:port; expected: host:port[,host:port...])");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder.nameServers("a:1,b"))
        .withMessage(
            "nameServers: 'a:1,b' ('b' is not host:port; expected: host:port[,host:port...])");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder.nameServers("a:0"))
        .withMessageContaining("'a:0' is not host:port");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder.nameServers("a:65536"))
        .withMessageContaining("'a:65536' is not host:port");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder.nameServers("a:x"))
        .withMessageContaining("'a:x' is not host:port");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder.nameServers(":9099"))
        .withMessageContaining("':9099' is not host:port");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder.nameServers("a:1, a:1"))
        .withMessage(
            "nameServers: 'a:1, a:1' ('a:1' is listed twice; expected: host:port[,host:port...])");
    assertThatNullPointerException().isThrownBy(() -> builder.nameServers(null));
  }
}

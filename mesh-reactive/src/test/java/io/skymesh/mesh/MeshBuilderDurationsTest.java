package io.skymesh.mesh;

import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The durations where zero means never take zero, and refuse a negative one by name. */
class MeshBuilderDurationsTest {

  @Test
  void zeroIsNeverAndANegativeDurationIsRefused() {
    MeshBuilder builder = Mesh.builder("game");
    builder.pingInterval(Duration.ZERO).writeStallTimeout(Duration.ZERO);
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder.writeStallTimeout(Duration.ofMillis(-1)))
        .withMessage("timeout: PT-0.001S (expected: >= 0)");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder.pingInterval(Duration.ofSeconds(-1)))
        .withMessage("interval: PT-1S (expected: >= 0)");
    assertThatNullPointerException().isThrownBy(() -> builder.writeStallTimeout(null));
  }
}

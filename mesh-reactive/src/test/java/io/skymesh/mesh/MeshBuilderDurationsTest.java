package io.skymesh.mesh;

import static io.skymesh.mesh.TestMeshes.register;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.rpc.Methods;
import io.skymesh.mesh.rpc.Reply;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;

/**
 * The durations where zero means never take zero, refuse a negative one by name, and take one
 * longer than nanoseconds can count as never.
 */
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

  @Test
  void aWriteStallTimeoutLongerThanNanosecondsCanCountIsNever() {
    try (TestMeshes meshes = TestMeshes.withNameServer()) {
      Duration forever = Duration.ofSeconds(Long.MAX_VALUE);
      ServiceUrl echo = ServiceUrl.parse("game.zone1.echo/1");
      register(
          meshes.mesh(b -> b.writeStallTimeout(forever)),
          echo.toString(),
          Methods.builder().add("Echo", request -> Mono.just(Reply.of(request.payload()))).build());
      MeshService caller =
          register(meshes.mesh(b -> b.writeStallTimeout(forever)), "game.zone1.caller/1");
      StepVerifier.create(caller.request(echo, "Echo", ByteString.copyFromUtf8("hi")))
          .assertNext(reply -> assertThat(reply.payload().toStringUtf8()).isEqualTo("hi"))
          .expectComplete()
          .verify(TestMeshes.DEADLINE);
    }
  }
}

package io.skymesh.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** A real child JVM: readiness, kill -9, pause and resume, failures that quote the output. */
class ForkedJvmTest {

  /** The child: says it is ready with its first argument, then waits to be killed. */
  public static final class Child {
    public static void main(String[] args) throws InterruptedException {
      if (args.length > 0 && args[0].equals("fail")) {
        System.err.println("cannot start: no such thing");
        System.exit(3);
      }
      System.out.println("ready at " + (args.length > 0 ? args[0] : "nothing"));
      System.out.flush();
      new CountDownLatch(1).await();
    }
  }

  private static ForkedJvm.Builder child(String... args) {
    return ForkedJvm.builder(Child.class.getName())
        .args(args)
        .jvmArgs("-Xmx32m")
        .deadline(Duration.ofSeconds(60));
  }

  @Test
  void waitsForTheReadinessLineAndKillsForReal() {
    try (ForkedJvm jvm = child("4242").readyWhen(Pattern.compile("ready at (\\d+)")).start()) {
      assertThat(jvm.ready().group(1)).isEqualTo("4242");
      assertThat(jvm.isAlive()).isTrue();

      int status = jvm.kill();

      assertThat(status).as("SIGKILL").isEqualTo(128 + 9);
      assertThat(jvm.isAlive()).isFalse();
    }
  }

  @Test
  void pausesAndResumesTheChild() throws IOException {
    Path stat = Path.of("/proc/self/stat");
    assumeThat(Files.exists(stat)).as("Linux /proc").isTrue();
    try (ForkedJvm jvm = child("x").readyWhen(Pattern.compile("ready")).start()) {
      Path childStat = Path.of("/proc", Long.toString(jvm.pid()), "stat");

      jvm.pause();
      await().atMost(Duration.ofSeconds(10)).until(() -> state(childStat) == 'T');
      jvm.resume();
      await().atMost(Duration.ofSeconds(10)).until(() -> state(childStat) != 'T');

      assertThat(jvm.isAlive()).isTrue();
    }
  }

  @Test
  void aChildThatExitsBeforeItIsReadyFailsWithItsOutput() {
    assertThatThrownBy(() -> child("fail").readyWhen(Pattern.compile("ready")).start())
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("exited before it was ready")
        .hasMessageContaining("cannot start: no such thing");
  }

  @Test
  void aChildThatNeverSaysItIsReadyIsKilledAtTheDeadline() {
    assertThatThrownBy(
            () ->
                child("x")
                    .readyWhen(Pattern.compile("never printed"))
                    .deadline(Duration.ofSeconds(5))
                    .start())
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("printed no line matching /never printed/ within PT5S")
        .hasMessageContaining("ready at x");
  }

  /** The process state letter of a /proc/PID/stat line: R, S, T (stopped), ... */
  private static char state(Path stat) throws IOException {
    String line = Files.readString(stat);
    return line.charAt(line.lastIndexOf(')') + 2);
  }
}

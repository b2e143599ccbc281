package io.skymesh.nameserver;

import static org.assertj.core.api.Assertions.assertThat;

import io.skymesh.nameserver.cli.NameServerCli;
import io.skymesh.testkit.ForkedJvm;
import java.time.Duration;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Repeated 1 MiB KV writes to a real server with a small heap: the history's byte bound keeps it
 * alive (10,000 changes of 1 MiB each used to be kept, and a 512 MB heap ran out).
 */
class HistoryHeapTest {

  private static final Duration TIMEOUT = TestClient.TIMEOUT;
  private static final Pattern LISTENING = Pattern.compile("Name server listening on \\S*:(\\d+)");

  @Test
  void repeatedLargeWritesStayWithinASmallHeap() {
    try (ForkedJvm server =
        ForkedJvm.builder(NameServerCli.class.getName())
            .jvmArgs("-Xmx128m", "-XX:TieredStopAtLevel=1")
            .args("serve", "--port", "0", "--history-bytes-limit", "32MiB")
            .readyWhen(LISTENING)
            .deadline(Duration.ofSeconds(60))
            .start()) {
      TestClient client = TestClient.open(Integer.parseInt(server.ready().group(1)), "ops");
      String large = "x".repeat((1 << 20) - 1024);

      long last = 0;
      for (int i = 0; i < 200; i++) {
        last = client.put("config/large", large + i);
      }

      assertThat(client.get("config/large").getEntry().getModRevision()).isEqualTo(last);
      assertThat(server.isAlive()).isTrue();
      assertThat(server.output()).noneMatch(line -> line.contains("OutOfMemoryError"));
      client.close();
    }
  }
}

package io.skymesh.examples.namerouter;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

class NameRouterDemoTest {

  @Test
  void roundRobinAlternatesHashKeepsEachKeyAndTheAttributesCountEveryMessage() {
    List<String> printed = new CopyOnWriteArrayList<>();
    NameRouterDemo.Report report = NameRouterDemo.run(printed::add);

    // Round robin: each server exactly once in every two consecutive messages.
    assertThat(report.roundRobin()).hasSize(10);
    for (int i = 0; i + 1 < 10; i++) {
      assertThat(report.roundRobin().get(i)).isNotEqualTo(report.roundRobin().get(i + 1));
    }
    // Hash: both messages of a user went to the same server.
    assertThat(report.byKey()).hasSize(5).doesNotContainValue("split");
    // The published counts are what each server was sent: 5 by round robin plus its users' two.
    for (String id : List.of("1", "2")) {
      long byHash = report.byKey().values().stream().filter(id::equals).count() * 2;
      assertThat(report.received()).containsEntry(id, 5 + byHash);
    }
    assertThat(report.received().values().stream().mapToLong(Long::longValue).sum()).isEqualTo(20);
    assertThat(printed).anyMatch(line -> line.startsWith("hash(user-1) -> echo/"));
  }
}

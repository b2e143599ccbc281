package io.skymesh.examples.kvconfig;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

class KvConfigDemoTest {

  @Test
  void settingsRouteTableAndCounterBehave() {
    List<String> printed = new CopyOnWriteArrayList<>();

    KvConfigDemo.Report report = KvConfigDemo.run(15, printed::add);

    assertThat(report.maxPlayers()).isEqualTo(250);
    assertThat(report.timeout()).isEqualTo(Duration.ofMillis(1500));
    assertThat(report.motd()).isEqualTo("welcome");
    assertThat(report.counter()).isEqualTo(30);
    assertThat(report.routeLeftAfterDelete()).containsExactly("kvdemo/route/backup");
    assertThat(report.watched())
        .startsWith("PUT kvdemo/max-players=250", "PUT kvdemo/timeout=1500ms")
        .contains("DELETED kvdemo/route=", "PUT kvdemo/counter=30")
        .endsWith("PUT kvdemo/done=yes");
    assertThat(printed)
        .anyMatch(line -> line.startsWith("a 2 MiB value is refused: INVALID_ARGUMENT"));
  }
}

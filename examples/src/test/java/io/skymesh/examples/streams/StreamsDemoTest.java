package io.skymesh.examples.streams;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

class StreamsDemoTest {

  @Test
  void theTickerIsHeldToTheTradersDemandAndTheChatShoutsBack() {
    List<String> printed = new CopyOnWriteArrayList<>();

    StreamsDemo.Report report = StreamsDemo.run(30, printed::add);

    assertThat(report.prices())
        .hasSize(30)
        .allSatisfy(price -> assertThat(price).startsWith("ACME "));
    assertThat(report.prices().get(0)).isEqualTo("ACME 101.1");
    // Read 30 of an endless stream: the credit window (256) bounds what was made beyond them.
    assertThat(report.produced()).isBetween(30L, 30L + 256);
    assertThat(report.shouted()).containsExactly("HELLO!", "ANY BIDS?!", "BYE!");
    assertThat(printed).contains("chat: BYE!");
  }
}

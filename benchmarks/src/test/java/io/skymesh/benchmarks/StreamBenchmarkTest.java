package io.skymesh.benchmarks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link StreamBenchmark} outside JMH: every side carries streams and channels longer than several
 * credit windows, plaintext and over TLS, with the counts its teardown checks; and a side whose
 * items are wrong fails its teardown instead of scoring.
 */
class StreamBenchmarkTest {

  /** Several windows of {@value StreamBenchmark#WINDOW}, and not a multiple of the replenishing. */
  private static final int ITEMS = 1_000;

  private static List<StreamBenchmark.Side> sides() {
    return List.of(
        new StreamBenchmark.SkymeshSide(),
        new StreamBenchmark.RSocketSide(),
        new StreamBenchmark.GrpcSide());
  }

  @ParameterizedTest
  @ValueSource(strings = {Transport.PLAIN, Transport.TLS})
  void everySideStreamsAndEchoesEveryItemBeyondItsWindow(String transport) throws Exception {
    for (StreamBenchmark.Side side : sides()) {
      side.payloadSize = 1024;
      side.transport = transport;
      side.setUp();
      try {
        long before = side.received();
        assertThat(side.stream(ITEMS)).as(side.describe()).isEqualTo(ITEMS);
        assertThat(side.channel(ITEMS)).as(side.describe()).isEqualTo(ITEMS);
        assertThat(side.received() - before).as(side.describe()).isEqualTo(2L * ITEMS);
        assertThat(side.served.get()).as(side.describe()).isEqualTo(side.received());
      } finally {
        side.tearDown();
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"stream", "channel"})
  void itemsOfTheWrongSizeFailTheTrial(String call) throws Exception {
    for (StreamBenchmark.Side side : sides()) {
      side.payloadSize = 64;
      side.transport = Transport.PLAIN;
      side.setUp();
      // The items are still 64 bytes; the check now expects 65.
      side.payloadSize = 65;
      long items = call.equals("stream") ? side.stream(10) : side.channel(10);
      String described = side.describe();
      assertThat(items).isEqualTo(10);
      assertThatThrownBy(side::tearDown)
          .as(described)
          .isInstanceOf(IllegalStateException.class)
          .hasMessage("10 items of the wrong size");
    }
  }
}

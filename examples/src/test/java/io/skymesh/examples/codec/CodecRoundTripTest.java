package io.skymesh.examples.codec;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class CodecRoundTripTest {

  @Test
  void everyFrameComesBackEqualAndInOrder() {
    CodecRoundTrip.Result result = CodecRoundTrip.run(2_000);

    assertThat(result.sent()).isEqualTo(2_002);
    assertThat(result.received()).isEqualTo(2_002);
    assertThat(result.allEqual()).isTrue();
  }

  @Test
  void mainRunsWithAFrameCount() {
    CodecRoundTrip.main(new String[] {"10"});
  }
}

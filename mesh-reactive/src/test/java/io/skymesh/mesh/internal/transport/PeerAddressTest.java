package io.skymesh.mesh.internal.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Parsing peer addresses and checking configurations: bad input fails at once, by name. */
class PeerAddressTest {

  @Test
  void parsesHostAndPortAndBracketedIpv6() {
    assertThat(PeerAddress.parse("127.0.0.1:7000")).isEqualTo(new PeerAddress("127.0.0.1", 7000));
    assertThat(PeerAddress.parse("mesh-1.example:1"))
        .isEqualTo(new PeerAddress("mesh-1.example", 1));
    assertThat(PeerAddress.parse("[::1]:65535")).isEqualTo(new PeerAddress("::1", 65535));
    assertThat(PeerAddress.format("::1", 80)).isEqualTo("[::1]:80");
    assertThat(new PeerAddress("10.0.0.1", 80)).hasToString("10.0.0.1:80");
  }

  @Test
  void refusesWhatIsNotHostColonPort() {
    for (String bad : new String[] {"", "host", ":80", "host:", "host:x", "host:0", "::1:80"}) {
      assertThatThrownBy(() -> PeerAddress.parse(bad))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("\"" + bad + "\"");
    }
  }

  @Test
  void configurationSettingsAreCheckedWhenSet() {
    PeerTransportConfig.Builder builder = PeerTransportConfig.builder();
    assertThatThrownBy(() -> builder.port(70000)).hasMessage("port: 70000 (expected: 0..65535)");
    assertThatThrownBy(() -> builder.outboundQueueLimit(0))
        .hasMessage("outboundQueueLimit: 0 (expected: >= 1)");
    assertThatThrownBy(() -> builder.inboundPrefetch(0))
        .hasMessage("inboundPrefetch: 0 (expected: >= 1)");
    assertThatThrownBy(() -> builder.writeBufferWaterMark(10, 5))
        .hasMessageContaining("writeBufferWaterMark: 10..5");
    assertThatThrownBy(() -> builder.handshakeTimeout(Duration.ZERO))
        .hasMessageContaining("handshakeTimeout");
    assertThatThrownBy(() -> builder.processId("")).hasMessageContaining("processId");
    assertThatThrownBy(() -> builder.maxFrameLength(0)).hasMessageContaining("maxFrameLength");
  }

  @Test
  void defaultsAreALoopbackListenerOnAFreePortWithAFreshProcessId() {
    PeerTransportConfig one = PeerTransportConfig.builder().build();
    PeerTransportConfig two = PeerTransportConfig.builder().build();
    assertThat(one.host()).isEqualTo("127.0.0.1");
    assertThat(one.advertisedHost()).isEqualTo("127.0.0.1");
    assertThat(one.port()).isZero();
    assertThat(one.processId()).isNotEqualTo(two.processId());
    assertThat(one.toBuilder().appId("x").build().processId()).isEqualTo(one.processId());
  }
}

package io.skymesh.benchmarks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;
import reactor.netty.DisposableServer;

/**
 * The {@code transport} parameter outside JMH: every side of both peer benchmarks starts, carries a
 * batch and stops cleanly over TLS, and the check that guards a TLS trial refuses a server that
 * does not speak TLS.
 */
class TransportTest {

  @Test
  void everySideOfTheRequestResponseBenchmarkRunsOverTls() throws Exception {
    RequestResponseBenchmark.SkymeshSide skymesh = new RequestResponseBenchmark.SkymeshSide();
    skymesh.observability = Observability.OFF;
    for (RequestResponseBenchmark.Side side :
        List.of(
            skymesh,
            new RequestResponseBenchmark.RSocketSide(),
            new RequestResponseBenchmark.GrpcSide())) {
      side.payloadSize = 64;
      side.inFlight = 4;
      side.transport = Transport.TLS;
      side.setUp();
      try {
        // The setup's request and the batch's 16 at least: the loops go on until the iteration
        // ends.
        assertThat(side.batch(16)).isGreaterThanOrEqualTo(17);
        side.stopLoad(); // the iteration's end: stops the loops and waits for their last replies
      } finally {
        side.tearDown();
      }
    }
  }

  @Test
  void everySideOfTheMeshSendBenchmarkRunsOverTls() throws Exception {
    MeshSendBenchmark.SkymeshSide skymesh = new MeshSendBenchmark.SkymeshSide();
    skymesh.observability = Observability.OFF;
    for (MeshSendBenchmark.Side side :
        List.of(skymesh, new MeshSendBenchmark.RSocketSide(), new MeshSendBenchmark.GrpcSide())) {
      side.payloadSize = 64;
      side.inFlight = 4;
      side.inFlightUntil = "arrived";
      side.transport = Transport.TLS;
      side.setUp();
      try {
        assertThat(side.runBatch(16)).isEqualTo(17);
      } finally {
        side.tearDown();
      }
    }
  }

  @Test
  void theCheckRefusesAPlaintextServer() {
    // Echoes what it is sent: the probe's ClientHello comes back, which no TLS server would send.
    DisposableServer echo =
        Transport.rsocketServer(Transport.PLAIN)
            .handle((in, out) -> out.send(in.receive().retain()))
            .bindNow();
    try {
      assertThatThrownBy(() -> Transport.check(Transport.TLS, echo.port()))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("no TLS handshake with the server at 127.0.0.1:" + echo.port());
    } finally {
      echo.disposeNow();
    }
  }

  @Test
  void aTransportOtherThanPlainOrTlsIsRefused() {
    assertThat(Transport.check(Transport.PLAIN, 1)).isEqualTo("plaintext");
    assertThatThrownBy(() -> Transport.isTls("ssl"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("transport: \"ssl\" (expected: plain or tls)");
  }
}

package io.skymesh.nameserver.etcd;

import static io.skymesh.nameserver.etcd.Etcds.TIMEOUT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.skymesh.core.exceptions.SkymeshException;
import io.skymesh.nameserver.NameServer;
import io.skymesh.nameserver.client.NameServerConnection;
import io.skymesh.nameserver.spi.NameStore;
import io.skymesh.proto.HealthCheck;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.StatusCode;
import io.skymesh.testkit.EtcdCluster;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import reactor.test.StepVerifier;

/**
 * A name-server node over etcd is healthy while etcd answers it: the {@code HealthCheck} request
 * and {@code NameServer.checkHealth()} say UNAVAILABLE, with the reason, while its only etcd member
 * is down, and serving again once it is back.
 */
class EtcdHealthTest {

  private static EtcdCluster etcd;

  @BeforeAll
  static void start() {
    etcd = EtcdCluster.start(1);
  }

  @AfterAll
  static void stop() {
    if (etcd != null) {
      etcd.close();
    }
  }

  private static NameClientFrame.Builder healthCheck() {
    return NameClientFrame.newBuilder().setHealthCheck(HealthCheck.getDefaultInstance());
  }

  /** One probe, as a container's would: connect, ask, leave. */
  private static NameServerFrame probe(NameServer server) {
    NameServerConnection probe =
        NameServerConnection.builder("127.0.0.1", server.port()).connect().block(TIMEOUT);
    try {
      return probe.exchange(healthCheck(), Duration.ofSeconds(20)).block(TIMEOUT);
    } finally {
      probe.dispose();
    }
  }

  @Test
  void aNodeIsUnhealthyWhileItsEtcdIsDownAndHealthyOnceItIsBack() {
    NameStore store = Etcds.open(etcd.endpoints());
    NameServer server = NameServer.builder().store(store).start().block(TIMEOUT);
    try {
      NameServerFrame serving = probe(server);
      assertThat(serving.hasAck()).as("%s", serving).isTrue();
      StepVerifier.create(server.checkHealth()).expectComplete().verify(TIMEOUT);

      etcd.stop(0);
      NameServerFrame down = probe(server);
      assertThat(down.hasError()).as("%s", down).isTrue();
      assertThat(down.getError().getStatus().getCode()).isEqualTo(StatusCode.UNAVAILABLE);
      assertThat(down.getError().getStatus().getMessage()).contains("the store is unreachable");
      StepVerifier.create(server.checkHealth())
          .expectErrorSatisfies(
              error -> {
                assertThat(error).isInstanceOf(SkymeshException.class);
                assertThat(((SkymeshException) error).statusCode())
                    .isEqualTo(StatusCode.UNAVAILABLE);
              })
          .verify(TIMEOUT);
      assertThat(server.counters().refusals(StatusCode.UNAVAILABLE)).isEqualTo(1);

      etcd.startMember(0);
      await().atMost(TIMEOUT).untilAsserted(() -> assertThat(probe(server).hasAck()).isTrue());
    } finally {
      if (etcd.pid(0).isEmpty()) {
        etcd.startMember(0);
      }
      server.closeNow(TIMEOUT);
    }
  }
}

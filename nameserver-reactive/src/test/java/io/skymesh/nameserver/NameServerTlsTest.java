package io.skymesh.nameserver;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.pkitesting.X509Bundle;
import io.skymesh.core.exceptions.PeerUnavailableException;
import io.skymesh.nameserver.client.NameServerConnection;
import io.skymesh.proto.Instance;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.OpenSession;
import io.skymesh.proto.Register;
import io.skymesh.testkit.TestPki;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.test.StepVerifier;

/**
 * The name server over TLS: a client that trusts its authority and connects to the name in its
 * certificate talks to it; a plaintext client, a certificate for another host and (with mutual TLS)
 * a client without a certificate are refused, and no session opens.
 */
class NameServerTlsTest {

  private static final java.time.Duration TIMEOUT = TestClient.TIMEOUT;
  private static final TestPki PKI = TestPki.create();
  private static final X509Bundle LOOPBACK = PKI.issue("localhost", "127.0.0.1");

  private NameServer server;

  @AfterEach
  void close() {
    if (server != null) {
      server.closeNow(TIMEOUT);
    }
  }

  private NameServer start(X509Bundle identity, boolean mutual) {
    server = NameServer.builder().tls(PKI.serverContext(identity, mutual)).start().block(TIMEOUT);
    return server;
  }

  private static NameClientFrame.Builder openSession() {
    return NameClientFrame.newBuilder()
        .setOpenSession(OpenSession.newBuilder().setProtocolVersion(1).setAppId("game"));
  }

  @Test
  void aClientThatTrustsTheServerTalksToItOverTls() {
    start(LOOPBACK, false);
    NameServerConnection client =
        NameServerConnection.builder("127.0.0.1", server.port())
            .tls(PKI.clientContext(null))
            .connect()
            .block(TIMEOUT);
    try {
      client.request(openSession()).block(TIMEOUT);
      client
          .request(
              NameClientFrame.newBuilder()
                  .setRegister(
                      Register.newBuilder()
                          .setInstance(
                              Instance.newBuilder()
                                  .setUrl("game.zone1.lobby/1")
                                  .setAddress("127.0.0.1:7001"))))
          .block(TIMEOUT);
      // Published after the batch that answered: waited for.
      org.awaitility.Awaitility.await()
          .atMost(TIMEOUT)
          .untilAsserted(() -> assertThat(server.metrics().instances()).isEqualTo(1));
    } finally {
      client.dispose();
    }
  }

  @Test
  void aPlaintextClientIsRefused() {
    start(LOOPBACK, false);
    NameServerConnection plain =
        NameServerConnection.builder("127.0.0.1", server.port()).connect().block(TIMEOUT);
    try {
      StepVerifier.create(plain.request(openSession()))
          .expectError(PeerUnavailableException.class)
          .verify(TIMEOUT);
      assertThat(server.metrics().sessions()).isZero();
    } finally {
      plain.dispose();
    }
  }

  @Test
  void aCertificateForAnotherHostIsRefused() {
    start(PKI.issue("elsewhere.example"), false);
    StepVerifier.create(
            NameServerConnection.builder("127.0.0.1", server.port())
                .tls(PKI.clientContext(null))
                .connect())
        .expectErrorSatisfies(
            error ->
                assertThat(error)
                    .isInstanceOf(PeerUnavailableException.class)
                    .hasMessageContaining("name server 127.0.0.1:" + server.port())
                    .hasMessageContaining("SSLHandshakeException"))
        .verify(TIMEOUT);
    assertThat(server.metrics().sessions()).isZero();
  }

  @Test
  void withMutualTlsAClientWithoutACertificateIsRefusedAndOneWithItTalks() {
    start(LOOPBACK, true);
    NameServerConnection anonymous =
        NameServerConnection.builder("127.0.0.1", server.port())
            .tls(PKI.clientContext(null))
            .connect()
            .onErrorResume(e -> reactor.core.publisher.Mono.empty())
            .block(TIMEOUT);
    if (anonymous != null) {
      // TLS 1.3: the client's handshake ends before the server checks its certificate; the
      // refusal then closes the connection under the first request.
      StepVerifier.create(anonymous.request(openSession()))
          .expectError(PeerUnavailableException.class)
          .verify(TIMEOUT);
      anonymous.dispose();
    }
    assertThat(server.metrics().sessions()).isZero();

    NameServerConnection known =
        NameServerConnection.builder("127.0.0.1", server.port())
            .tls(PKI.clientContext(PKI.issue("lobby-1")))
            .connect()
            .block(TIMEOUT);
    try {
      known.request(openSession()).block(TIMEOUT);
      // Published after the batch that answered: waited for.
      org.awaitility.Awaitility.await()
          .atMost(TIMEOUT)
          .untilAsserted(() -> assertThat(server.metrics().sessions()).isEqualTo(1));
    } finally {
      known.dispose();
    }
  }

  @Test
  void aTlsClientOfAPlaintextServerFailsToConnect() {
    server = NameServer.builder().start().block(TIMEOUT);
    StepVerifier.create(
            NameServerConnection.builder("127.0.0.1", server.port())
                .tls(PKI.clientContext(null))
                .connect())
        .expectError(PeerUnavailableException.class)
        .verify(TIMEOUT);
  }
}

package io.skymesh.nameserver.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.skymesh.nameserver.spi.NameStoreException;
import io.skymesh.nameserver.spi.NameStoreProvider;
import io.skymesh.proto.StatusCode;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import reactor.test.StepVerifier;

class EtcdNameStoreProviderTest {

  @Test
  void theServiceLoaderFindsTheEtcdStore() {
    assertThat(NameStoreProvider.find("etcd", getClass().getClassLoader()))
        .get()
        .isInstanceOf(EtcdNameStoreProvider.class);
  }

  @Test
  void badEndpointsFailFastNamingTheEndpoint() {
    EtcdNameStoreProvider provider = new EtcdNameStoreProvider();
    assertThatThrownBy(() -> provider.open(" , "))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("etcd endpoints: \" , \" (expected: http://host:port[,http://host:port...])");
    assertThatThrownBy(() -> provider.open("http://127.0.0.1:2379,127.0.0.1:2380"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("etcd endpoint: \"127.0.0.1:2380\" (expected: http://host:port)");
  }

  @Test
  void anUnreachableEtcdIsAClearUnavailableError() throws Exception {
    int port;
    try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = probe.getLocalPort();
    }
    String target = "http://127.0.0.1:" + port;
    StepVerifier.create(new EtcdNameStoreProvider().open(target, Duration.ofSeconds(2)))
        .expectErrorSatisfies(
            e ->
                assertThat(e)
                    .isInstanceOfSatisfying(
                        NameStoreException.class,
                        n -> assertThat(n.code()).isEqualTo(StatusCode.UNAVAILABLE))
                    .hasMessage("etcd at " + target + " is unreachable: no answer within 2000 ms"))
        .verify(Duration.ofSeconds(60));
  }

  @Test
  void theTlsSettingsAreOfferedByName() {
    assertThat(new EtcdNameStoreProvider().settings())
        .extracting(NameStoreProvider.Setting::name)
        .containsExactly("etcd-ca", "etcd-cert", "etcd-key");
  }

  @Test
  void badTlsSettingsFailFastNamingTheSetting() {
    EtcdNameStoreProvider provider = new EtcdNameStoreProvider();
    assertThatThrownBy(() -> provider.open("http://127.0.0.1:2379", Map.of("etcd-ca", "ca.pem")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "etcd TLS settings (etcd-ca, etcd-cert, etcd-key) need https:// endpoints:"
                + " \"http://127.0.0.1:2379\"");
    assertThatThrownBy(() -> provider.open("https://127.0.0.1:2379,http://127.0.0.1:2380"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "etcd endpoints: \"https://127.0.0.1:2379,http://127.0.0.1:2380\" (expected: all"
                + " https://, for TLS, or all http://)");
    assertThatThrownBy(
            () -> provider.open("https://127.0.0.1:2379", Map.of("etcd-cert", "node.pem")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("etcd-cert and etcd-key: give both or neither");
    assertThatThrownBy(() -> provider.open("https://127.0.0.1:2379", Map.of("etcd-pass", "x")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("etcd store: no setting [etcd-pass] (expected: etcd-ca, etcd-cert, etcd-key)");
  }

  @Test
  void anUnreadableTlsFileIsAnErrorNamingTheSetting() {
    StepVerifier.create(
            new EtcdNameStoreProvider()
                .open("https://127.0.0.1:2379", Map.of("etcd-ca", "/nonexistent/ca.pem")))
        .expectErrorSatisfies(
            e ->
                assertThat(e)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("etcd-ca /nonexistent/ca.pem"))
        .verify(Duration.ofSeconds(30));
  }
}

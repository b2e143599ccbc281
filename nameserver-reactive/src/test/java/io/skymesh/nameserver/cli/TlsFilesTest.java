package io.skymesh.nameserver.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.OpenSslContext;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.pkitesting.X509Bundle;
import io.netty.util.ReferenceCountUtil;
import io.skymesh.codec.Tls;
import io.skymesh.testkit.ForkedJvm;
import io.skymesh.testkit.TestPki;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.publisher.Mono;
import reactor.netty.Connection;
import reactor.netty.DisposableServer;
import reactor.netty.tcp.TcpClient;
import reactor.netty.tcp.TcpServer;
import reactor.test.StepVerifier;

/**
 * The CLI's TLS contexts use OpenSSL when netty-tcnative is on the class path (as in the standalone
 * jar), the JDK's TLS when it is switched off, and an OpenSSL server and a JDK client understand
 * each other. Contexts made here are released.
 */
class TlsFilesTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(10);
  private static final Pattern LISTENING = Pattern.compile("Name server listening on \\S*:(\\d+)");

  @TempDir Path dir;

  private Path pem(String name, String text) throws IOException {
    return Files.writeString(dir.resolve(name), text);
  }

  @Test
  void theCliContextsAreOpenSslBackedWhenTcnativeIsOnTheClassPath() throws IOException {
    TestPki pki = TestPki.create();
    X509Bundle server = pki.issue("localhost", "127.0.0.1");
    Path ca = pem("ca.pem", pki.authority().getCertificatePEM());
    SslContext serverContext =
        TlsFiles.server(
            pem("server.pem", server.getCertificatePathPEM()),
            pem("server.key", server.getPrivateKeyPEM()),
            ca);
    SslContext clientContext = TlsFiles.client(ca, null, null);
    try {
      assertThat(OpenSsl.isAvailable()).as("netty-tcnative loads here").isTrue();
      assertThat(TlsFiles.provider()).isEqualTo(SslProvider.OPENSSL);
      assertThat(serverContext).isInstanceOf(OpenSslContext.class);
      assertThat(clientContext).isInstanceOf(OpenSslContext.class);
    } finally {
      ReferenceCountUtil.release(serverContext);
      ReferenceCountUtil.release(clientContext);
    }
  }

  @Test
  void anOpenSslServerAndAJdkClientShakeHands() throws Exception {
    TestPki pki = TestPki.create();
    X509Bundle identity = pki.issue("localhost", "127.0.0.1");
    SslContext serverContext =
        TlsFiles.server(
            pem("server.pem", identity.getCertificatePathPEM()),
            pem("server.key", identity.getPrivateKeyPEM()),
            null);
    SslContext jdkClient =
        SslContextBuilder.forClient()
            .sslProvider(SslProvider.JDK)
            .trustManager(pki.authority().getCertificate())
            .build();
    AtomicReference<String> serverEngine = new AtomicReference<>();
    DisposableServer echo =
        TcpServer.create()
            .host("127.0.0.1")
            .port(0)
            .secure(spec -> spec.sslContext(serverContext))
            .doOnConnection(
                c ->
                    serverEngine.set(
                        c.channel().pipeline().get(SslHandler.class).engine().getClass().getName()))
            .handle((in, out) -> out.send(in.receive().retain()))
            .bindNow(TIMEOUT);
    try {
      Connection client =
          TcpClient.create()
              .host("127.0.0.1")
              .port(echo.port())
              .secure(spec -> spec.sslContext(jdkClient).handlerConfigurator(Tls::verifyHostname))
              .connectNow(TIMEOUT);
      try {
        SslHandler tls = client.channel().pipeline().get(SslHandler.class);
        StepVerifier.create(
                client
                    .outbound()
                    .sendString(Mono.just("hello"))
                    .then()
                    .thenMany(client.inbound().receive().asString().take(1)))
            .expectNextMatches(text -> text.startsWith("hello"))
            .expectComplete()
            .verify(TIMEOUT);
        assertThat(tls.engine().getClass().getName()).startsWith("sun.security.ssl.");
        assertThat(serverEngine.get()).contains("OpenSsl");
        assertThat(tls.engine().getSession().getProtocol()).startsWith("TLSv1.");
      } finally {
        client.disposeNow(TIMEOUT);
      }
    } finally {
      echo.disposeNow(TIMEOUT);
      ReferenceCountUtil.release(serverContext);
    }
  }

  @Test
  void serveLogsItsTlsProviderOnceAndUsesTheJdksWhenOpenSslIsSwitchedOff() throws IOException {
    TestPki pki = TestPki.create();
    X509Bundle identity = pki.issue("localhost", "127.0.0.1");
    String cert = pem("server.pem", identity.getCertificatePathPEM()).toString();
    String key = pem("server.key", identity.getPrivateKeyPEM()).toString();

    assertThat(providerLines(cert, key))
        .singleElement()
        .asString()
        // Loaded on the command's own thread, before the server's event loops run.
        .contains("[main]")
        .contains("TLS provider: OpenSSL (BoringSSL");
    assertThat(providerLines(cert, key, "-Dio.netty.handler.ssl.noOpenSsl=true"))
        .singleElement()
        .asString()
        .contains("TLS provider: JDK (OpenSSL unavailable:")
        .contains("noOpenSsl");
  }

  /** The lines a forked {@code serve --tls-cert --tls-key} logs about its TLS provider. */
  private static List<String> providerLines(String cert, String key, String... jvmArgs) {
    List<String> args = new ArrayList<>(List.of("-Xmx96m", "-XX:TieredStopAtLevel=1"));
    args.addAll(List.of(jvmArgs));
    try (ForkedJvm served =
        ForkedJvm.builder(NameServerCli.class.getName())
            .jvmArgs(args.toArray(String[]::new))
            .args("serve", "--port", "0", "--tls-cert", cert, "--tls-key", key)
            .readyWhen(LISTENING)
            .deadline(Duration.ofSeconds(60))
            .start()) {
      return served.output().stream().filter(line -> line.contains("TLS provider:")).toList();
    }
  }
}

package io.skymesh.nameserver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.netty.GrpcSslContexts;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.ReferenceCounted;
import io.skymesh.nameserver.cli.NameServerCli;
import io.skymesh.nameserver.etcd.EtcdNameStoreProvider;
import io.skymesh.nameserver.spi.NameStore;
import io.skymesh.nameserver.spi.NameStoreException;
import io.skymesh.proto.StatusCode;
import io.skymesh.proto.WatchEvent;
import io.skymesh.testkit.ForkedJvm;
import io.skymesh.testkit.TestPki;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.OptionalLong;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;

/**
 * Name-server nodes over an etcd that serves TLS only and requires client certificates: the store
 * connects with the authority and a client certificate, and fails with a reason that names TLS and
 * the certificate when either is missing or wrong, or when etcd's certificate does not name the
 * host dialed. Real etcd, real TCP, BlockHound on.
 */
class EtcdTlsTest extends NameServerTestSupport {

  /** Opening waits 5 s for etcd, then up to 2 s for the reason: well within this. */
  private static final Duration OPEN_DEADLINE = Duration.ofSeconds(30);

  private static final Pattern LISTENING = Pattern.compile("Name server listening on \\S*:(\\d+)");

  @TempDir static Path dir;
  private static TlsEtcd etcd;
  private static Path[] node;

  @BeforeAll
  static void startEtcd() throws IOException {
    etcd = TlsEtcd.start(TestPki.create(), dir);
    node = etcd.clientFiles("node");
  }

  @AfterAll
  static void stopEtcd() {
    if (etcd != null) {
      etcd.close();
    }
  }

  private static Map<String, String> settings(Path ca, Path cert, Path key) {
    Map<String, String> settings = new HashMap<>();
    if (ca != null) {
      settings.put(EtcdNameStoreProvider.CA, ca.toString());
    }
    if (cert != null) {
      settings.put(EtcdNameStoreProvider.CERT, cert.toString());
      settings.put(EtcdNameStoreProvider.KEY, key.toString());
    }
    return settings;
  }

  private static Mono<NameStore> open(String endpoint, Map<String, String> settings) {
    return new EtcdNameStoreProvider().open(endpoint, settings);
  }

  /** Expects opening to fail as unavailable, with a message containing each of {@code parts}. */
  private static void refused(Mono<NameStore> opening, String... parts) {
    StepVerifier.create(opening)
        .expectErrorSatisfies(
            e -> {
              assertThat(e)
                  .isInstanceOfSatisfying(
                      NameStoreException.class,
                      n -> assertThat(n.code()).isEqualTo(StatusCode.UNAVAILABLE));
              for (String part : parts) {
                assertThat(e.getMessage()).contains(part);
              }
            })
        .verify(OPEN_DEADLINE);
  }

  @Test
  void aNodeWithTheAuthorityAndAClientCertificateServesOverTls() {
    NameStore store =
        open(etcd.endpoint(), settings(etcd.ca(), node[0], node[1])).block(OPEN_DEADLINE);
    NameServer server = start(builder -> builder.store(store));
    TestClient owner = open(server, "tlsapp");
    TestClient watcher = open(server, "tlsapp");

    long watchedAt = watcher.watchService(1, "tlsapp.env.svc", 0).block(TIMEOUT).getRevision();
    long registered =
        owner.register("tlsapp.env.svc/1", "127.0.0.1:7001").block(TIMEOUT).getRevision();

    assertThat(registered).isGreaterThan(watchedAt);
    WatchEvent added =
        watcher.events(1).filter(e -> e.getRevision() == registered).blockFirst(TIMEOUT);
    assertThat(added.getRevision()).isEqualTo(registered);
  }

  @Test
  void aContextOfTheCallersOwnConnectsAndStaysTheCallers() throws Exception {
    var identity = etcd.pki().issue("embedded");
    boolean openSsl = OpenSsl.isAvailable();
    SslContext context =
        GrpcSslContexts.configure(
                SslContextBuilder.forClient(), openSsl ? SslProvider.OPENSSL : SslProvider.JDK)
            .trustManager(etcd.pki().authority().getCertificate())
            .keyManager(identity.getKeyPair().getPrivate(), identity.getCertificatePath())
            .build();
    try {
      NameStore store =
          new EtcdNameStoreProvider().open(etcd.endpoint(), context).block(OPEN_DEADLINE);
      StepVerifier.create(
              store.kvPut("tls/embedded", ByteString.copyFromUtf8("v"), OptionalLong.empty()))
          .expectNextMatches(revision -> revision > 0)
          .expectComplete()
          .verify(OPEN_DEADLINE);
      store.close().block(OPEN_DEADLINE);
      if (openSsl) {
        // The channel's engines let go as the closed client's connections end; the caller's
        // own reference stays.
        await()
            .atMost(Duration.ofSeconds(10))
            .untilAsserted(() -> assertThat(((ReferenceCounted) context).refCnt()).isOne());
      }
    } finally {
      ReferenceCountUtil.release(context);
    }
  }

  @Test
  void withoutTheAuthorityTheNodeRefusesEtcdsCertificate() {
    // The JVM's authorities do not know the test's.
    refused(
        open(etcd.endpoint(), settings(null, node[0], node[1])),
        "etcd at " + etcd.endpoint() + " is unreachable: TLS failed",
        "unable to find valid certification path");
  }

  @Test
  void withAnotherAuthorityTheNodeRefusesEtcdsCertificate() throws IOException {
    Path otherCa = etcd.write("other-ca.pem", TestPki.create().authority().getCertificatePEM());
    refused(open(etcd.endpoint(), settings(otherCa, node[0], node[1])), "TLS failed", "PKIX path");
  }

  @Test
  void aCertificateThatDoesNotNameTheHostDialedIsRefused() {
    refused(
        open(etcd.endpointByAddress(), settings(etcd.ca(), node[0], node[1])),
        "TLS failed",
        "127.0.0.1");
  }

  @Test
  void withoutAClientCertificateEtcdRefusesTheNode() {
    refused(
        open(etcd.endpoint(), settings(etcd.ca(), null, null)),
        "TLS",
        "etcd refused this node's client certificate");
  }

  @Test
  void aClientCertificateOfAnotherAuthorityIsRefusedByEtcd() throws IOException {
    var stranger = TestPki.create().issue("stranger");
    Path cert = etcd.write("stranger.pem", stranger.getCertificatePathPEM());
    Path key = etcd.write("stranger.key", stranger.getPrivateKeyPEM());
    refused(
        open(etcd.endpoint(), settings(etcd.ca(), cert, key)),
        "TLS",
        "etcd refused this node's client certificate");
  }

  @Test
  void serveOffersTheStoresTlsOptions() {
    Run help = cli("serve", "--help");

    assertThat(help.status()).isZero();
    assertThat(help.out()).contains("--etcd-ca=PEM", "--etcd-cert=PEM", "--etcd-key=PEM");
  }

  @Test
  void anEtcdOptionWithoutEtcdIsAUsageError() {
    Run run = cli("serve", "--port", "0", "--etcd-ca", etcd.ca().toString());

    assertThat(run.status()).isEqualTo(NameServerCli.USAGE);
    assertThat(run.err()).contains("--etcd-ca: only with --etcd");
  }

  @Test
  void serveWithEtcdOverTlsStartsAndServes() {
    try (ForkedJvm served =
        ForkedJvm.builder(NameServerCli.class.getName())
            .jvmArgs("-Xmx128m", "-XX:TieredStopAtLevel=1")
            .args(
                "serve",
                "--port",
                "0",
                "--etcd",
                etcd.endpoint(),
                "--etcd-ca",
                etcd.ca().toString(),
                "--etcd-cert",
                node[0].toString(),
                "--etcd-key",
                node[1].toString())
            .readyWhen(LISTENING)
            .deadline(Duration.ofSeconds(60))
            .start()) {
      int port = Integer.parseInt(served.ready().group(1));
      TestClient client = track(TestClient.open(port, "tlscli"));
      long put = client.put("tlscli/k", "v");
      assertThat(client.get("tlscli/k").getEntry().getModRevision()).isEqualTo(put);
      assertThat(served.output()).anyMatch(line -> line.contains("etcd over TLS with"));
    }
  }

  record Run(int status, String out, String err) {}

  private static Run cli(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int status =
        NameServerCli.commandLine()
            .setOut(new PrintWriter(out))
            .setErr(new PrintWriter(err))
            .execute(args);
    return new Run(status, out.toString(), err.toString());
  }
}

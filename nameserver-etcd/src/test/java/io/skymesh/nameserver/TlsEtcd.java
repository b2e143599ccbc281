package io.skymesh.nameserver;

import io.netty.pkitesting.X509Bundle;
import io.skymesh.testkit.TestPki;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;

/**
 * One etcd member that serves clients over TLS only and requires a client certificate ({@code
 * --client-cert-auth}), with certificates from a {@link TestPki} written as PEM files into a test's
 * directory; stopped by its process id. Blocking: call it from a test's thread.
 */
final class TlsEtcd implements AutoCloseable {

  private static final Duration READY_TIMEOUT = Duration.ofSeconds(30);

  private final TestPki pki;
  private final Path dir;
  private final int clientPort;
  private final Process process;

  private TlsEtcd(TestPki pki, Path dir, int clientPort, Process process) {
    this.pki = pki;
    this.dir = dir;
    this.clientPort = clientPort;
    this.process = process;
  }

  /**
   * Starts etcd on 127.0.0.1 in {@code dir} with a server certificate for {@code localhost} only
   * (so that {@code https://127.0.0.1:PORT} fails the host-name check) issued by {@code pki}, and
   * waits until it answers a client of that authority.
   */
  static TlsEtcd start(TestPki pki, Path dir) throws IOException {
    X509Bundle server = pki.issue("localhost");
    Path cert = Files.writeString(dir.resolve("etcd.pem"), server.getCertificatePathPEM());
    Path key = Files.writeString(dir.resolve("etcd.key"), server.getPrivateKeyPEM());
    Path ca = Files.writeString(dir.resolve("etcd-ca.pem"), pki.authority().getCertificatePEM());
    int[] ports = freePorts();
    String clientUrl = "https://127.0.0.1:" + ports[0];
    String peerUrl = "http://127.0.0.1:" + ports[1];
    Path log = dir.resolve("etcd.log");
    List<String> command =
        List.of(
            "etcd",
            "--name",
            "tls",
            "--data-dir",
            dir.resolve("data").toString(),
            "--listen-client-urls",
            clientUrl,
            "--advertise-client-urls",
            clientUrl,
            "--listen-peer-urls",
            peerUrl,
            "--initial-advertise-peer-urls",
            peerUrl,
            "--initial-cluster",
            "tls=" + peerUrl,
            "--cert-file",
            cert.toString(),
            "--key-file",
            key.toString(),
            "--trusted-ca-file",
            ca.toString(),
            "--client-cert-auth",
            "--heartbeat-interval",
            "200",
            "--election-timeout",
            "3000");
    Process process =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
            .start();
    TlsEtcd etcd = new TlsEtcd(pki, dir, ports[0], process);
    try {
      etcd.awaitHealthy(log);
      return etcd;
    } catch (RuntimeException | Error e) {
      etcd.close();
      throw e;
    }
  }

  /** The client endpoint by the name its certificate has, {@code https://localhost:PORT}. */
  String endpoint() {
    return "https://localhost:" + clientPort;
  }

  /** The client endpoint by an address its certificate does not name. */
  String endpointByAddress() {
    return "https://127.0.0.1:" + clientPort;
  }

  /** The authority that issued etcd's certificate and trusts clients'. */
  TestPki pki() {
    return pki;
  }

  /** The authority's certificate, as a PEM file. */
  Path ca() {
    return dir.resolve("etcd-ca.pem");
  }

  /** Writes {@code text} to the file {@code name} in the test's directory. */
  Path write(String name, String text) throws IOException {
    return Files.writeString(dir.resolve(name), text);
  }

  /** A client certificate of this authority as PEM files: the chain and the key. */
  Path[] clientFiles(String name) throws IOException {
    X509Bundle client = pki.issue(name);
    return new Path[] {
      write(name + ".pem", client.getCertificatePathPEM()),
      write(name + ".key", client.getPrivateKeyPEM())
    };
  }

  private void awaitHealthy(Path log) {
    HttpClient http;
    try {
      X509Bundle probe = pki.issue("probe");
      SSLContext tls = SSLContext.getInstance("TLS");
      tls.init(
          probe.toKeyManagerFactory().getKeyManagers(),
          pki.authority().toTrustManagerFactory().getTrustManagers(),
          null);
      http = HttpClient.newBuilder().sslContext(tls).connectTimeout(Duration.ofSeconds(2)).build();
    } catch (Exception e) {
      throw new IllegalStateException("cannot make the health probe's TLS context", e);
    }
    long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
    while (true) {
      if (!process.isAlive()) {
        throw new IllegalStateException("etcd exited before it was healthy:\n" + tail(log));
      }
      try {
        HttpResponse<String> health =
            http.send(
                HttpRequest.newBuilder(URI.create(endpoint() + "/health"))
                    .timeout(Duration.ofSeconds(2))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
        if (health.statusCode() == 200 && health.body().replace(" ", "").contains("\"true\"")) {
          return;
        }
      } catch (IOException notYet) {
        // Not listening yet.
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
      if (System.nanoTime() - deadline > 0) {
        throw new IllegalStateException("etcd not healthy in time:\n" + tail(log));
      }
      try {
        // Polling a process that reports readiness only through its health endpoint.
        process.waitFor(100, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }
  }

  private static String tail(Path log) {
    try {
      List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  private static int[] freePorts() throws IOException {
    try (ServerSocket a = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        ServerSocket b = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return new int[] {a.getLocalPort(), b.getLocalPort()};
    }
  }

  /** Kills etcd by its process id and waits until it has exited. */
  @Override
  public void close() {
    process.destroyForcibly();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        throw new IllegalStateException("etcd (pid " + process.pid() + ") did not exit");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new UncheckedIOException(new IOException("interrupted while stopping etcd", e));
    }
  }
}

package io.skymesh.nameserver.etcd;

import io.etcd.jetcd.Client;
import io.etcd.jetcd.ClientBuilder;
import io.netty.handler.ssl.SslContext;
import io.netty.util.ReferenceCountUtil;
import io.skymesh.nameserver.etcd.internal.EtcdLayout;
import io.skymesh.nameserver.etcd.internal.EtcdNameStore;
import io.skymesh.nameserver.etcd.internal.EtcdTls;
import io.skymesh.nameserver.etcd.internal.FailFast;
import io.skymesh.nameserver.spi.NameStore;
import io.skymesh.nameserver.spi.NameStoreException;
import io.skymesh.nameserver.spi.NameStoreProvider;
import io.skymesh.proto.StatusCode;
import java.net.ConnectException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * The {@code "etcd"} store: {@code serve --etcd http://127.0.0.1:2379[,...]} runs a name-server
 * node that keeps its state in that etcd cluster, so that several nodes over one cluster are one
 * name service. Found by {@link java.util.ServiceLoader}.
 *
 * <p>With {@code https://} endpoints the node speaks TLS to etcd, checking that etcd's certificate
 * names the endpoint's host; the settings {@value #CA}, {@value #CERT} and {@value #KEY} ({@code
 * serve --etcd-ca/--etcd-cert/--etcd-key}) name the PEM files of the authorities to trust and of
 * the node's client certificate for etcd's {@code --client-cert-auth}.
 *
 * <pre>{@code
 * NameStore store = new EtcdNameStoreProvider().open("http://127.0.0.1:2379").block();
 * NameServer.builder().store(store).start();
 * }</pre>
 */
public final class EtcdNameStoreProvider implements NameStoreProvider {

  private static final Logger log = LoggerFactory.getLogger(EtcdNameStoreProvider.class);

  /** The setting naming the PEM file of the authorities that issued etcd's certificate. */
  public static final String CA = "etcd-ca";

  /** The setting naming the PEM file of the node's client certificate chain. */
  public static final String CERT = "etcd-cert";

  /** The setting naming the PEM file of the client certificate's private key (PKCS#8). */
  public static final String KEY = "etcd-key";

  private static final List<Setting> SETTINGS =
      List.of(
          new Setting(
              CA,
              "PEM",
              "With https:// --etcd endpoints: trust these authorities (PEM) for etcd's"
                  + " certificate, which must name the endpoint's host. Default: the JVM's."),
          new Setting(
              CERT,
              "PEM",
              "With https:// --etcd endpoints: present this client certificate chain (PEM), for"
                  + " etcd's --client-cert-auth; needs --etcd-key."),
          new Setting(KEY, "PEM", "The private key of --etcd-cert (PKCS#8 PEM)."));

  /** How long {@link #open} waits for etcd to answer before it fails. */
  static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);

  /** How long a failed open then waits for the connection's last error, to report it. */
  static final Duration DIAGNOSIS_TIMEOUT = Duration.ofSeconds(2);

  private static final String REFUSED_CLIENT_CERTIFICATE =
      "etcd refused this node's client certificate (--etcd-cert), or its --client-cert-auth wants"
          + " one and none was given; etcd's log says which";

  /** Creates the provider; the service loader does this. */
  public EtcdNameStoreProvider() {}

  @Override
  public String name() {
    return "etcd";
  }

  /**
   * The TLS settings: {@value #CA}, {@value #CERT}, {@value #KEY}.
   *
   * @return the settings
   */
  @Override
  public List<Setting> settings() {
    return SETTINGS;
  }

  /**
   * Connects to etcd when subscribed and checks that it answers; fails with {@code UNAVAILABLE}
   * naming the endpoints if it does not within 5 seconds (well within the 10 s that {@code serve}
   * waits to start). The client is built off the caller's thread (it starts Vert.x and gRPC).
   *
   * @param target comma-separated endpoint urls, for example {@code
   *     http://127.0.0.1:2379,http://127.0.0.1:22379}; {@code https://} ones (all or none) connect
   *     with TLS, trusting the JVM's authorities
   * @return the open store
   */
  @Override
  public Mono<NameStore> open(String target) {
    return open(target, Map.of());
  }

  /**
   * As {@link #open(String)}, with the TLS settings {@value #CA}, {@value #CERT} and {@value #KEY}
   * (paths of PEM files, read when subscribed, off the caller's thread). When TLS fails, the error
   * says why (for example the certificate path that could not be built, or the handshake alert etcd
   * sent), after at most 2 more seconds.
   *
   * @param target comma-separated endpoint urls; with settings, all {@code https://}
   * @param settings values by setting name
   * @return the open store
   * @throws IllegalArgumentException on a bad endpoint, an unknown setting, TLS settings with
   *     {@code http://} endpoints, or a certificate without its key
   */
  @Override
  public Mono<NameStore> open(String target, Map<String, String> settings) {
    return open(target, settings, CONNECT_TIMEOUT);
  }

  /**
   * As {@link #open(String)} with TLS configured by the caller.
   *
   * @param target comma-separated {@code https://} endpoint urls
   * @param sslContext a client context made by gRPC's {@code GrpcSslContexts.forClient()} (HTTP/2
   *     by ALPN), whose authorities and key the caller chose; the caller keeps and releases it
   * @return the open store
   */
  public Mono<NameStore> open(String target, SslContext sslContext) {
    Objects.requireNonNull(sslContext, "sslContext");
    List<String> endpoints = endpoints(target);
    if (!https(target, endpoints)) {
      throw new IllegalArgumentException(
          "etcd endpoints: \"" + target + "\" (expected: https:// ones, for the sslContext)");
    }
    return open(target, endpoints, () -> sslContext, false, CONNECT_TIMEOUT);
  }

  /** As {@link #open(String)}, waiting {@code timeout} for etcd's first answer. */
  Mono<NameStore> open(String target, Duration timeout) {
    return open(target, Map.of(), timeout);
  }

  /** As {@link #open(String, Map)}, waiting {@code timeout} for etcd's first answer. */
  Mono<NameStore> open(String target, Map<String, String> settings, Duration timeout) {
    List<String> endpoints = endpoints(target);
    Map<String, String> rest = new HashMap<>(Objects.requireNonNull(settings, "settings"));
    Path ca = path(rest.remove(CA));
    Path cert = path(rest.remove(CERT));
    Path key = path(rest.remove(KEY));
    if (!rest.isEmpty()) {
      throw new IllegalArgumentException(
          "etcd store: no setting "
              + rest.keySet()
              + " (expected: "
              + CA
              + ", "
              + CERT
              + ", "
              + KEY
              + ")");
    }
    boolean https = https(target, endpoints);
    if (!https && (ca != null || cert != null || key != null)) {
      throw new IllegalArgumentException(
          "etcd TLS settings ("
              + CA
              + ", "
              + CERT
              + ", "
              + KEY
              + ") need https:// endpoints: \""
              + target
              + "\"");
    }
    Callable<SslContext> tls = https ? new EtcdTls(ca, cert, key)::context : null;
    return open(target, endpoints, tls, true, timeout);
  }

  private Mono<NameStore> open(
      String target,
      List<String> endpoints,
      Callable<SslContext> tls,
      boolean owned,
      Duration timeout) {
    FailFast failFast = new FailFast();
    return Mono.fromCallable(
            () -> {
              SslContext context = tls == null ? null : tls.call();
              // A context made here is released when the client is closed: OpenSSL's hold
              // native memory (the engines gRPC makes hold references of their own).
              Runnable release = owned ? () -> ReferenceCountUtil.release(context) : () -> {};
              try {
                return new Connected(connect(endpoints, context, failFast), release);
              } catch (RuntimeException e) {
                release.run();
                throw e;
              }
            })
        .subscribeOn(Schedulers.boundedElastic())
        .flatMap(
            connected ->
                firstAnswer(connected.client)
                    .timeout(timeout, Schedulers.parallel())
                    .onErrorResume(
                        TimeoutException.class,
                        late ->
                            tls == null
                                ? Mono.error(late)
                                : diagnose(connected.client, failFast, late))
                    .map(
                        revision ->
                            (NameStore)
                                new EtcdNameStore(
                                    connected.client,
                                    EtcdLayout.under(EtcdLayout.DEFAULT_ROOT),
                                    revision,
                                    connected.release))
                    .onErrorResume(
                        error ->
                            Mono.fromRunnable(connected::close)
                                .subscribeOn(Schedulers.boundedElastic())
                                .then(
                                    Mono.error(unreachable(target, timeout, tls != null, error)))));
  }

  /** A client and what to release once it is closed. */
  private record Connected(Client client, Runnable release) {
    void close() {
      try {
        client.close();
      } finally {
        release.run();
      }
    }
  }

  /** The revision etcd answers a read with. */
  private static Mono<Long> firstAnswer(Client client) {
    return Mono.fromFuture(
            () -> client.getKVClient().get(EtcdLayout.bytes(EtcdLayout.DEFAULT_ROOT)), true)
        .map(got -> got.getHeader().getRevision());
  }

  /**
   * After etcd did not answer in time over TLS, asks once more without waiting for a connection:
   * the call fails with the connection's last error, a refused handshake's reason. Should etcd
   * answer now, the store opens after all.
   */
  private static Mono<Long> diagnose(Client client, FailFast failFast, TimeoutException late) {
    return Mono.defer(
            () -> {
              failFast.set(true);
              return firstAnswer(client);
            })
        .timeout(DIAGNOSIS_TIMEOUT, Mono.<Long>error(late), Schedulers.parallel())
        .doFinally(signal -> failFast.set(false));
  }

  private static Client connect(List<String> endpoints, SslContext tls, FailFast failFast) {
    ClientBuilder builder =
        Client.builder()
            .endpoints(endpoints.toArray(String[]::new))
            .connectTimeout(Duration.ofSeconds(5))
            .interceptor(failFast);
    if (tls != null) {
      builder.sslContext(tls);
      log.info("etcd over TLS with {}", EtcdTls.provider());
    }
    Client client = builder.build();
    // jetcd creates its Vert.x instance and gRPC channel lazily, on first use, with file and
    // thread set-up: make that happen here, on a thread that may block.
    client.getKVClient();
    client.getLeaseClient();
    client.getWatchClient();
    return client;
  }

  private static List<String> endpoints(String target) {
    Objects.requireNonNull(target, "target");
    List<String> endpoints =
        Arrays.stream(target.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
    if (endpoints.isEmpty()) {
      throw new IllegalArgumentException(
          "etcd endpoints: \"" + target + "\" (expected: http://host:port[,http://host:port...])");
    }
    for (String endpoint : endpoints) {
      if (!endpoint.matches("https?://[^/,]+:\\d+/?")) {
        throw new IllegalArgumentException(
            "etcd endpoint: \"" + endpoint + "\" (expected: http://host:port)");
      }
    }
    return endpoints;
  }

  /** Whether the endpoints are all https (TLS); a mix of https and http is refused. */
  private static boolean https(String target, List<String> endpoints) {
    long https = endpoints.stream().filter(e -> e.startsWith("https:")).count();
    if (https != 0 && https != endpoints.size()) {
      throw new IllegalArgumentException(
          "etcd endpoints: \"" + target + "\" (expected: all https://, for TLS, or all http://)");
    }
    return https != 0;
  }

  private static Path path(String value) {
    return value == null || value.isBlank() ? null : Path.of(value);
  }

  private static NameStoreException unreachable(
      String target, Duration timeout, boolean tls, Throwable error) {
    String why =
        error instanceof TimeoutException
            ? "no answer within " + timeout.toMillis() + " ms"
            : tls ? tlsFailure(error) : String.valueOf(error.getMessage());
    return new NameStoreException(
        StatusCode.UNAVAILABLE, "etcd at " + target + " is unreachable: " + why, error);
  }

  /**
   * Why a TLS connection failed: the innermost TLS error in {@code error}'s causes. With TLS 1.3 a
   * server refuses a client's certificate after the client's side of the handshake is done, and its
   * alert can be lost when it resets the connection; a connection closed without a reason is then
   * said to be most likely that.
   */
  private static String tlsFailure(Throwable error) {
    Throwable tls = null;
    for (Throwable t = error; t != null && t != t.getCause(); t = t.getCause()) {
      if (t instanceof SSLException) {
        tls = t;
      }
      if (t instanceof ConnectException) {
        return String.valueOf(error.getMessage());
      }
    }
    if (tls == null) {
      return error.getMessage()
          + " (etcd closed the TLS connection: most likely "
          + REFUSED_CLIENT_CERTIFICATE
          + ")";
    }
    StringBuilder why = new StringBuilder("TLS failed: ").append(tls.getMessage());
    for (Throwable t = tls.getCause(); t != null && t != t.getCause(); t = t.getCause()) {
      if (t.getMessage() != null && !why.toString().contains(t.getMessage())) {
        why.append(": ").append(t.getMessage());
      }
    }
    String lower = why.toString().toLowerCase(Locale.ROOT);
    if (lower.contains("alert") && lower.contains("certificate")) {
      // An alert the client receives about a certificate is about its own (the JDK: "Received
      // fatal alert: bad_certificate"; OpenSSL: "SSLV3_ALERT_BAD_CERTIFICATE").
      why.append(" (").append(REFUSED_CLIENT_CERTIFICATE).append(')');
    }
    return why.toString();
  }
}

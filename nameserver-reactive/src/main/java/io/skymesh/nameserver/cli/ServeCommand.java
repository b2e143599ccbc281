package io.skymesh.nameserver.cli;

import io.skymesh.nameserver.FsyncPolicy;
import io.skymesh.nameserver.NameServer;
import io.skymesh.nameserver.NameServerBuilder;
import io.skymesh.nameserver.internal.TicketKeyFile;
import io.skymesh.nameserver.spi.NameStoreProvider;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import reactor.core.publisher.Mono;

/** {@code serve}: runs a name server until SIGINT or SIGTERM, then closes it gracefully. */
@Command(
    name = "serve",
    mixinStandardHelpOptions = true,
    modelTransformer = StoreSettings.class,
    description = "Runs a name server until SIGINT or SIGTERM.")
final class ServeCommand implements Callable<Integer> {

  private static final Logger log = LoggerFactory.getLogger(ServeCommand.class);

  /** How long a graceful close may take on shutdown. */
  static final Duration SHUTDOWN_TIMEOUT = Duration.ofSeconds(10);

  @Option(
      names = "--host",
      defaultValue = "127.0.0.1",
      description =
          "Host or IP to listen on; 0.0.0.0 for every interface. Default: ${DEFAULT-VALUE}.")
  String host;

  @Option(
      names = "--port",
      defaultValue = "9099",
      description = "TCP port; 0 picks a free one. Default: ${DEFAULT-VALUE}.")
  int port;

  @Option(
      names = "--metrics-port",
      description =
          "Also serve HTTP on this port (same host): GET /metrics, the server's meters as"
              + " Prometheus text; GET /health. 0 picks a free one. Default: off.")
  Integer metricsPort;

  /** Where the metrics endpoint listens once started; null when off. */
  volatile InetSocketAddress metricsAddress;

  @Option(
      names = "--session-ttl",
      defaultValue = "10s",
      converter = DurationConverter.class,
      description =
          "TTL of a session that asks for none (e.g. 10s, 500ms, 1m). Default: ${DEFAULT-VALUE}.")
  Duration sessionTtl;

  @Option(
      names = "--max-session-ttl",
      defaultValue = "60s",
      converter = DurationConverter.class,
      description = "Longest TTL a client may ask for. Default: ${DEFAULT-VALUE}.")
  Duration maxSessionTtl;

  @Option(
      names = "--watcher-queue-limit",
      defaultValue = "" + NameServerBuilder.DEFAULT_WATCHER_QUEUE_LIMIT,
      description = "Frames queued per session before a watch resyncs. Default: ${DEFAULT-VALUE}.")
  int watcherQueueLimit;

  @Option(
      names = "--history-limit",
      defaultValue = "" + NameServerBuilder.DEFAULT_HISTORY_LIMIT,
      description = "Changes kept for watches that resume. Default: ${DEFAULT-VALUE}.")
  int historyLimit;

  @Option(
      names = "--history-bytes-limit",
      paramLabel = "SIZE",
      defaultValue = "64MiB",
      converter = SizeConverter.class,
      description =
          "Bytes of changes (their serialized events) kept for watches that resume; the oldest go"
              + " first once this or --history-limit is exceeded (e.g. 65536, 512KiB, 64MiB)."
              + " Default: ${DEFAULT-VALUE}.")
  long historyBytesLimit;

  @Option(
      names = "--max-frame-length",
      paramLabel = "SIZE",
      defaultValue = "16MiB",
      converter = SizeConverter.class,
      description =
          "The largest frame body a client may send; a larger one closes that connection."
              + " Default: ${DEFAULT-VALUE}.")
  long maxFrameLength;

  @Option(
      names = "--max-value-size",
      paramLabel = "SIZE",
      converter = SizeConverter.class,
      description =
          "The largest KV value a client may put. Default: 1MiB, lowered to fit a smaller"
              + " --max-frame-length.")
  Long maxValueSize;

  @Option(
      names = "--max-instance-size",
      paramLabel = "SIZE",
      defaultValue = "64KiB",
      converter = SizeConverter.class,
      description =
          "The largest instance a client may register: url, address and attributes encoded"
              + " together. Default: ${DEFAULT-VALUE}.")
  long maxInstanceSize;

  @Option(
      names = "--max-connections",
      defaultValue = "" + NameServerBuilder.DEFAULT_MAX_CONNECTIONS,
      description =
          "The most connections held at once; one more is refused. Default: ${DEFAULT-VALUE}.")
  int maxConnections;

  @Option(
      names = "--max-connections-per-address",
      defaultValue = "" + NameServerBuilder.DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
      description =
          "The most connections held at once from one source IP address; one more is refused."
              + " Default: ${DEFAULT-VALUE}.")
  int maxConnectionsPerAddress;

  @Option(
      names = "--max-sessions-per-principal",
      defaultValue = "" + NameServerBuilder.DEFAULT_MAX_SESSIONS_PER_PRINCIPAL,
      description =
          "With --principals, the most sessions one token may have open. Default:"
              + " ${DEFAULT-VALUE}.")
  int maxSessionsPerPrincipal;

  @Option(
      names = "--max-watches-per-session",
      defaultValue = "" + NameServerBuilder.DEFAULT_MAX_WATCHES_PER_SESSION,
      description = "The most watches one session may hold. Default: ${DEFAULT-VALUE}.")
  int maxWatchesPerSession;

  @Option(
      names = "--max-requests-per-second",
      defaultValue = "0",
      description =
          "The most requests a second one session may send (a second's worth at once); more"
              + " are refused. Default: ${DEFAULT-VALUE}, no limit.")
  int maxRequestsPerSecond;

  @Option(
      names = "--data-dir",
      paramLabel = "DIR",
      description =
          "Make KV entries, election terms and the revision counter durable in DIR (created if"
              + " missing; a snapshot plus an append-only log; one server per directory). Live"
              + " instances stay in memory: clients register again. Default: all in memory.")
  Path dataDir;

  @Option(
      names = "--fsync",
      paramLabel = "POLICY",
      defaultValue = "always",
      converter = FsyncConverter.class,
      description =
          "With --data-dir, when the log is forced to the disk: always (before each Ack; survives"
              + " power loss), interval (every --fsync-interval; Acks do not wait), never (the OS"
              + " decides). Every policy writes a change before its Ack, so all survive kill -9."
              + " Default: ${DEFAULT-VALUE}.")
  FsyncPolicy fsync;

  @Option(
      names = "--fsync-interval",
      defaultValue = "1s",
      converter = DurationConverter.class,
      description =
          "With --fsync interval, the longest time between forces. Default: ${DEFAULT-VALUE}.")
  Duration fsyncInterval;

  @Option(
      names = "--snapshot-log-bytes",
      paramLabel = "SIZE",
      defaultValue = "64MiB",
      converter = SizeConverter.class,
      description =
          "With --data-dir, the size of the log past which a snapshot replaces it."
              + " Default: ${DEFAULT-VALUE}.")
  long snapshotLogBytes;

  @Option(
      names = "--etcd",
      paramLabel = "URLS",
      description =
          "Keep no state here: run as one node of a name service over the etcd cluster at these"
              + " comma-separated endpoints (e.g. http://127.0.0.1:2379,http://10.0.0.2:2379)."
              + " Needs skymesh-nameserver-etcd on the class path. Default: the embedded store.")
  String etcd;

  @Option(
      names = "--tls-cert",
      paramLabel = "PEM",
      description =
          "Serve TLS only, presenting this certificate chain (PEM); needs --tls-key. Default:"
              + " plaintext.")
  Path tlsCert;

  @Option(
      names = "--tls-key",
      paramLabel = "PEM",
      description = "The private key of --tls-cert (PKCS#8 PEM).")
  Path tlsKey;

  @Option(
      names = "--tls-client-ca",
      paramLabel = "PEM",
      description =
          "Mutual TLS: require every client to present a certificate issued by these"
              + " authorities (PEM).")
  Path tlsClientCa;

  @Option(
      names = "--ticket-key",
      paramLabel = "PEM",
      description =
          "Sign peer tickets with this Ed25519 key: a PEM file with its PRIVATE KEY (PKCS#8) and"
              + " its PUBLIC KEY. Every node of one name service needs the same. Default: the key"
              + " kept in --data-dir (made there the first time), or a key made at start.")
  Path ticketKey;

  @Option(
      names = "--ticket-lifetime",
      paramLabel = "DURATION",
      description = "How long a peer ticket is valid, at least 1s. Default: ${DEFAULT-VALUE}.",
      converter = DurationConverter.class)
  Duration ticketLifetime = NameServerBuilder.DEFAULT_TICKET_LIFETIME;

  @Option(
      names = "--principals",
      paramLabel = "FILE",
      description =
          "Require a token of every client: the principals, one per line as 'name token roles"
              + " apps' (roles: service, reader, admin; apps: comma-separated app ids or *)."
              + " Default: none, open mode, where any client may do anything.")
  Path principals;

  @Spec CommandSpec spec;

  /** Reads an fsync policy in lower case. */
  static final class FsyncConverter implements CommandLine.ITypeConverter<FsyncPolicy> {
    @Override
    public FsyncPolicy convert(String value) {
      try {
        return FsyncPolicy.valueOf(value.trim().toUpperCase(java.util.Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new CommandLine.TypeConversionException(
            "'" + value + "' is not an fsync policy (expected: always, interval or never)");
      }
    }
  }

  /** The name of the etcd store's provider. */
  static final String ETCD = "etcd";

  @Override
  public Integer call() {
    Mono<NameServer> starting;
    try {
      starting = start();
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage(), e);
    }
    NameServer server = starting.block(SHUTDOWN_TIMEOUT);
    Thread hook =
        new Thread(
            () -> {
              log.info("Shutting down the name server on {}", server.address());
              try {
                server.closeNow(SHUTDOWN_TIMEOUT);
              } catch (RuntimeException e) {
                log.warn("The name server did not close cleanly", e);
              }
            },
            "skymesh-nameserver-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    server.onClose().block();
    return 0;
  }

  /**
   * Starts the server these options describe, without waiting for a signal: what {@link #call()}
   * does first, for tests.
   *
   * @throws IllegalArgumentException naming a bad option value
   */
  Mono<NameServer> start() {
    NameServerBuilder builder =
        NameServer.builder()
            .host(host)
            .port(port)
            .maxSessionTtl(maxSessionTtl)
            .sessionTtl(sessionTtl)
            .watcherQueueLimit(watcherQueueLimit)
            .historyLimit(historyLimit)
            .historyBytesLimit(historyBytesLimit)
            .fsync(fsync)
            .fsyncInterval(fsyncInterval)
            .snapshotLogBytes(snapshotLogBytes)
            .maxFrameLength(intSize("--max-frame-length", maxFrameLength))
            .maxInstanceSize(intSize("--max-instance-size", maxInstanceSize))
            .maxConnections(maxConnections)
            .maxConnectionsPerAddress(maxConnectionsPerAddress)
            .maxSessionsPerPrincipal(maxSessionsPerPrincipal)
            .maxWatchesPerSession(maxWatchesPerSession)
            .maxRequestsPerSecond(maxRequestsPerSecond)
            .ticketLifetime(ticketLifetime);
    if (ticketKey != null) {
      builder.ticketKey(TicketKeyFile.read(ticketKey, "--ticket-key"));
    }
    if (maxValueSize != null) {
      builder.maxValueSize(intSize("--max-value-size", maxValueSize));
    }
    if (principals != null) {
      PrincipalsFile.read(principals).forEach(builder::principal);
    }
    if (tlsCert != null || tlsKey != null || tlsClientCa != null) {
      builder.tls(TlsFiles.server(tlsCert, tlsKey, tlsClientCa));
    }
    if (dataDir != null) {
      if (etcd != null) {
        throw new IllegalArgumentException(
            "--data-dir and --etcd: choose one (etcd keeps the state; the nodes keep none)");
      }
      builder.dataDirectory(dataDir);
    }
    if (metricsPort != null && (metricsPort < 0 || metricsPort > 65535)) {
      throw new IllegalArgumentException("metrics port: " + metricsPort + " (expected: 0..65535)");
    }
    if (etcd == null) {
      StoreSettings.requireNone(spec, "--etcd");
      return withMetrics(builder.start());
    }
    NameStoreProvider provider =
        NameStoreProvider.find(ETCD, ServeCommand.class.getClassLoader())
            .orElseThrow(
                () ->
                    new IllegalArgumentException(
                        "--etcd: no etcd store on the class path (expected: the"
                            + " skymesh-nameserver-etcd jar and its dependencies beside"
                            + " nameserver.jar, e.g. java -cp 'nameserver.jar:etcd/*'"
                            + " io.skymesh.nameserver.cli.NameServerCli serve --etcd URLS)"));
    return withMetrics(
        provider
            .open(etcd, StoreSettings.of(spec, provider))
            .flatMap(store -> builder.store(store).start()));
  }

  /** A size option that must fit an int; the builder checks its range. */
  private static int intSize(String option, long size) {
    if (size > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(option + ": " + size + " bytes is too large");
    }
    return (int) size;
  }

  /** Starts the metrics endpoint beside the server when asked; a failure to bind closes both. */
  private Mono<NameServer> withMetrics(Mono<NameServer> starting) {
    if (metricsPort == null) {
      return starting;
    }
    return starting.flatMap(
        server ->
            MetricsEndpoint.start(server, host, metricsPort)
                .doOnNext(
                    http -> {
                      metricsAddress = (InetSocketAddress) http.address();
                      log.info(
                          "Metrics and health on http://{}/metrics and /health", http.address());
                    })
                .thenReturn(server)
                .onErrorResume(e -> server.close().then(Mono.error(e))));
  }
}

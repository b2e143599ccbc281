package io.skymesh.nameserver.etcd;

import io.etcd.jetcd.Client;
import io.skymesh.nameserver.etcd.internal.EtcdLayout;
import io.skymesh.nameserver.etcd.internal.EtcdNameStore;
import io.skymesh.nameserver.spi.NameStore;
import io.skymesh.nameserver.spi.NameStoreException;
import io.skymesh.nameserver.spi.NameStoreProvider;
import io.skymesh.proto.StatusCode;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeoutException;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * The {@code "etcd"} store: {@code serve --etcd http://127.0.0.1:2379[,...]} runs a name-server
 * node that keeps its state in that etcd cluster, so that several nodes over one cluster are one
 * name service. Found by {@link java.util.ServiceLoader}.
 *
 * <pre>{@code
 * NameStore store = new EtcdNameStoreProvider().open("http://127.0.0.1:2379").block();
 * NameServer.builder().store(store).start();
 * }</pre>
 */
public final class EtcdNameStoreProvider implements NameStoreProvider {

  /** How long {@link #open} waits for etcd to answer before it fails. */
  static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);

  /** Creates the provider; the service loader does this. */
  public EtcdNameStoreProvider() {}

  @Override
  public String name() {
    return "etcd";
  }

  /**
   * Connects to etcd when subscribed and checks that it answers; fails with {@code UNAVAILABLE}
   * naming the endpoints if it does not within 5 seconds (well within the 10 s that {@code serve}
   * waits to start). The client is built off the caller's thread (it starts Vert.x and gRPC).
   *
   * @param target comma-separated endpoint urls, for example {@code
   *     http://127.0.0.1:2379,http://127.0.0.1:22379}
   * @return the open store
   */
  @Override
  public Mono<NameStore> open(String target) {
    return open(target, CONNECT_TIMEOUT);
  }

  /** As {@link #open(String)}, waiting {@code timeout} for etcd's first answer. */
  Mono<NameStore> open(String target, Duration timeout) {
    List<String> endpoints = endpoints(target);
    return Mono.fromCallable(() -> connect(endpoints))
        .subscribeOn(Schedulers.boundedElastic())
        .flatMap(
            client ->
                Mono.fromFuture(
                        () -> client.getKVClient().get(EtcdLayout.bytes(EtcdLayout.DEFAULT_ROOT)),
                        true)
                    .timeout(timeout, Schedulers.parallel())
                    .map(
                        got ->
                            (NameStore)
                                new EtcdNameStore(
                                    client,
                                    EtcdLayout.under(EtcdLayout.DEFAULT_ROOT),
                                    got.getHeader().getRevision()))
                    .onErrorResume(
                        error ->
                            Mono.fromRunnable(client::close)
                                .subscribeOn(Schedulers.boundedElastic())
                                .then(Mono.error(unreachable(target, timeout, error)))));
  }

  private static Client connect(List<String> endpoints) {
    Client client =
        Client.builder()
            .endpoints(endpoints.toArray(String[]::new))
            .connectTimeout(Duration.ofSeconds(5))
            .build();
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

  private static NameStoreException unreachable(String target, Duration timeout, Throwable error) {
    String why =
        error instanceof TimeoutException
            ? "no answer within " + timeout.toMillis() + " ms"
            : String.valueOf(error.getMessage());
    return new NameStoreException(
        StatusCode.UNAVAILABLE, "etcd at " + target + " is unreachable: " + why, error);
  }
}

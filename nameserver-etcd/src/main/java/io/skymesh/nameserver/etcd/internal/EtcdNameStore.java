package io.skymesh.nameserver.etcd.internal;

import com.google.protobuf.ByteString;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.options.GetOption;
import io.skymesh.nameserver.etcd.internal.EtcdLayout.Kind;
import io.skymesh.nameserver.etcd.internal.EtcdLayout.ServiceKey;
import io.skymesh.nameserver.spi.Counted;
import io.skymesh.nameserver.spi.KvRead;
import io.skymesh.nameserver.spi.NameStore;
import io.skymesh.nameserver.spi.NameStoreException;
import io.skymesh.nameserver.spi.ServiceSelector;
import io.skymesh.nameserver.spi.StoreSession;
import io.skymesh.proto.KvWatchEvent;
import io.skymesh.proto.StatusCode;
import io.skymesh.proto.WatchEvent;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import reactor.core.Disposable;
import reactor.core.Disposables;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * The name server's state in etcd: this node keeps none of its own beyond the leases of its
 * clients' sessions, so any number of nodes over one etcd cluster are one name service. See {@link
 * EtcdLayout} for the keys and the module's README for the mapping.
 *
 * <p>Threading: every method is lazy and non-blocking; results and watch signals arrive on jetcd's
 * threads (gRPC, Vert.x), as the SPI allows.
 */
public final class EtcdNameStore implements NameStore {

  /** How long a health check waits for etcd's answer. */
  private static final Duration HEALTH_TIMEOUT = Duration.ofSeconds(3);

  private final Client client;
  private final Runnable afterClose;
  private final EtcdLayout layout;
  private final EtcdSessions sessions;
  private final EtcdServices services;
  private final EtcdKv kv;
  private final EtcdWatcher watcher;
  private final AtomicLong revision = new AtomicLong();
  private final String node = UUID.randomUUID().toString();
  private final AtomicLong owners = new AtomicLong();
  private final AtomicBoolean closed = new AtomicBoolean();

  /** The sessions this node holds, by id, whose records the one session watch judges. */
  private final Map<String, EtcdStoreSession> tracked = new ConcurrentHashMap<>();

  private final AtomicBoolean watchingSessions = new AtomicBoolean();
  private final Disposable.Swap sessionWatch = Disposables.swap();

  /** Where the next session watch starts: every record it must judge was written after it. */
  private volatile long sessionsFrom;

  /**
   * A store over {@code client}, which it closes when it closes.
   *
   * @param client a connected etcd client
   * @param layout the key layout
   * @param revision the revision etcd had when the client connected
   */
  public EtcdNameStore(Client client, EtcdLayout layout, long revision) {
    this(client, layout, revision, () -> {});
  }

  /**
   * A store over {@code client}, which it closes when it closes, and then runs {@code afterClose}.
   *
   * @param client a connected etcd client
   * @param layout the key layout
   * @param revision the revision etcd had when the client connected
   * @param afterClose what to release once the client is closed (its TLS context, say)
   */
  public EtcdNameStore(Client client, EtcdLayout layout, long revision, Runnable afterClose) {
    this.client = client;
    this.afterClose = afterClose;
    this.layout = layout;
    this.sessions = new EtcdSessions(client, layout);
    this.services = new EtcdServices(client, layout);
    this.kv = new EtcdKv(client, layout);
    this.watcher = new EtcdWatcher(client);
    this.revision.set(revision);
    this.sessionsFrom = revision;
  }

  /**
   * Starts judging {@code session}'s record: one etcd watch of every session record serves every
   * session this node holds (started with the first). Another holder of the same session on this
   * node has been taken over.
   */
  void track(EtcdStoreSession session) {
    EtcdStoreSession before = tracked.put(session.id(), session);
    if (before != null && before != session) {
      before.endHere("session resumed on another connection");
    }
    if (watchingSessions.compareAndSet(false, true)) {
      sessionWatch.update(
          watcher
              .watch(EtcdLayout.bytes(layout.sessionsRoot()), sessionsFrom)
              .subscribe(this::onSessionRecords, this::sessionWatchFailed));
    }
  }

  /** Stops judging {@code session}'s record. */
  void untrack(EtcdStoreSession session) {
    tracked.remove(session.id(), session);
  }

  private void onSessionRecords(EtcdWatcher.Batch batch) {
    seen(batch.revision());
    if (batch instanceof EtcdWatcher.Snapshot snapshot) {
      Map<String, KeyValue> records = new HashMap<>();
      for (KeyValue kv : snapshot.kvs()) {
        records.put(layout.sessionIdOf(kv.getKey()), kv);
      }
      for (EtcdStoreSession session : tracked.values()) {
        // A snapshot older than the session's record says nothing about it.
        if (session.recordRevision() <= snapshot.revision()) {
          session.judge(records.get(session.id()));
        }
      }
      return;
    }
    for (io.etcd.jetcd.watch.WatchEvent event : ((EtcdWatcher.Changes) batch).events()) {
      EtcdStoreSession session = tracked.get(layout.sessionIdOf(event.getKeyValue().getKey()));
      if (session != null && event.getKeyValue().getModRevision() > session.recordRevision()) {
        session.judge(
            event.getEventType() == io.etcd.jetcd.watch.WatchEvent.EventType.DELETE
                ? null
                : event.getKeyValue());
      }
    }
  }

  private void sessionWatchFailed(Throwable error) {
    // Without the watch no takeover would be noticed: end what depends on it, start afresh later.
    sessionsFrom = revision();
    watchingSessions.set(false);
    for (EtcdStoreSession session : tracked.values()) {
      session.endHere("session lost");
    }
  }

  EtcdLayout layout() {
    return layout;
  }

  EtcdSessions sessions() {
    return sessions;
  }

  EtcdServices services() {
    return services;
  }

  EtcdWatcher watcher() {
    return watcher;
  }

  Client client() {
    return client;
  }

  /** Records a revision etcd reported; returns it. */
  long seen(long etcdRevision) {
    return revision.accumulateAndGet(etcdRevision, Math::max);
  }

  /** A new owner tag: this node and a number, unique to one connection's hold on a session. */
  String newOwner() {
    return node + "/" + owners.incrementAndGet();
  }

  @Override
  public long revision() {
    return revision.get();
  }

  @Override
  public boolean resumable() {
    return true;
  }

  @Override
  public Mono<StoreSession> openSession(String appId, Duration ttl) {
    return Mono.defer(
        () -> {
          String owner = newOwner();
          return guard(
              sessions
                  .open(ttl, appId, owner)
                  .map(
                      granted -> {
                        seen(granted.revision());
                        return (StoreSession)
                            EtcdStoreSession.start(
                                this,
                                granted.id(),
                                granted.leaseId(),
                                appId,
                                owner,
                                Duration.ofSeconds(granted.ttlSeconds()),
                                granted.revision(),
                                List.of());
                      }));
        });
  }

  @Override
  public Mono<StoreSession> resume(String sessionId, String appId) {
    return Mono.defer(
        () -> {
          String owner = newOwner();
          return guard(
              sessions
                  .resume(sessionId, appId, owner)
                  .filter(EtcdSessions.Resumed::resumed)
                  .flatMap(
                      resumed ->
                          heldBy(resumed.leaseId())
                              .map(
                                  held -> {
                                    seen(resumed.revision());
                                    return (StoreSession)
                                        EtcdStoreSession.start(
                                            this,
                                            sessionId,
                                            resumed.leaseId(),
                                            appId,
                                            owner,
                                            Duration.ofSeconds(resumed.ttlSeconds()),
                                            resumed.revision(),
                                            held);
                                  })));
        });
  }

  /** The urls of the instances a lease holds now. */
  private Mono<List<String>> heldBy(long leaseId) {
    return Rx.call(
            () ->
                client
                    .getKVClient()
                    .get(
                        EtcdLayout.bytes(layout.servicesRoot()),
                        GetOption.builder().isPrefix(true).withKeysOnly(true).build()))
        .map(
            got -> {
              seen(got.getHeader().getRevision());
              List<String> urls = new ArrayList<>();
              for (KeyValue kv : got.getKvs()) {
                ServiceKey key = layout.serviceKeyOf(kv.getKey());
                if (key != null && key.kind() == Kind.INSTANCE && kv.getLease() == leaseId) {
                  urls.add(key.url());
                }
              }
              return urls;
            });
  }

  @Override
  public Flux<WatchEvent> watch(ServiceSelector selector, long fromRevision) {
    ByteSequence prefix =
        selector.serviceName() != null
            ? layout.service(selector.serviceName())
            : layout.servicesStartingWith(selector.prefix());
    return Flux.defer(
        () -> {
          ServiceView view = new ServiceView(layout);
          return watcher
              .watch(prefix, fromRevision)
              .doOnNext(batch -> seen(batch.revision()))
              .concatMapIterable(view::apply)
              .onErrorMap(EtcdNameStore::unavailable);
        });
  }

  @Override
  public Mono<Counted> clearServices(String urlPrefix) {
    int slash = urlPrefix.indexOf('/');
    ByteSequence prefix =
        slash < 0
            ? layout.servicesStartingWith(urlPrefix)
            : EtcdLayout.bytes(
                layout.servicesRoot()
                    + urlPrefix.substring(0, slash)
                    + "/i/"
                    + urlPrefix.substring(slash + 1));
    return guard(
        Rx.call(() -> client.getKVClient().get(prefix, GetOption.builder().isPrefix(true).build()))
            .flatMap(
                got -> {
                  long now = seen(got.getHeader().getRevision());
                  List<KeyValue> doomed = new ArrayList<>();
                  for (KeyValue value : got.getKvs()) {
                    ServiceKey key = layout.serviceKeyOf(value.getKey());
                    if (key != null
                        && key.kind() == Kind.INSTANCE
                        && key.url().startsWith(urlPrefix)) {
                      doomed.add(value);
                    }
                  }
                  AtomicLong count = new AtomicLong();
                  AtomicLong last = new AtomicLong(now);
                  return Flux.fromIterable(doomed)
                      .concatMap(
                          value -> {
                            String url = layout.serviceKeyOf(value.getKey()).url();
                            return services
                                .resignIfCampaigning(url)
                                .doOnNext(r -> last.accumulateAndGet(seen(r), Math::max))
                                .then(
                                    services.remove(
                                        url, value.getModRevision(), value.getLease(), "cleared"))
                                .doOnNext(
                                    r -> {
                                      if (r > 0) {
                                        count.incrementAndGet();
                                        last.accumulateAndGet(seen(r), Math::max);
                                      }
                                    });
                          })
                      .then(Mono.fromSupplier(() -> new Counted(count.get(), last.get())));
                }));
  }

  @Override
  public Mono<KvRead> kvGet(String key) {
    return guard(
        Rx.call(() -> client.getKVClient().get(layout.kv(key)))
            .map(
                got ->
                    new KvRead(
                        got.getKvs().stream().map(kv::entryOf).toList(),
                        seen(got.getHeader().getRevision()))));
  }

  @Override
  public Mono<KvRead> kvList(String prefix) {
    return guard(
        Rx.call(
                () ->
                    client
                        .getKVClient()
                        .get(layout.kv(prefix), GetOption.builder().isPrefix(true).build()))
            .map(
                got ->
                    new KvRead(
                        got.getKvs().stream().map(kv::entryOf).toList(),
                        seen(got.getHeader().getRevision()))));
  }

  @Override
  public Mono<Long> kvPut(String key, ByteString value, OptionalLong expectedModRevision) {
    return guard(
        kv.put(key, value.toByteArray(), expectedModRevision)
            .flatMap(
                written -> {
                  long now = seen(written.revision());
                  return written.written()
                      ? Mono.just(written.revision())
                      : Mono.error(
                          compareFailed(
                              "put",
                              key,
                              expectedModRevision.getAsLong(),
                              written.modRevision(),
                              now));
                }));
  }

  @Override
  public Mono<Counted> kvDelete(String key, OptionalLong expectedModRevision) {
    return guard(
        kv.delete(key, false, expectedModRevision)
            .flatMap(
                written -> {
                  long now = seen(written.revision());
                  // A failed compare reports the key's actual mod revision, which differs.
                  if (expectedModRevision.isPresent()
                      && written.count() == 0
                      && written.modRevision() != expectedModRevision.getAsLong()) {
                    {
                      return Mono.error(
                          compareFailed(
                              "delete",
                              key,
                              expectedModRevision.getAsLong(),
                              written.modRevision(),
                              now));
                    }
                  }
                  return Mono.just(new Counted(written.count(), now));
                }));
  }

  @Override
  public Mono<Counted> kvDeletePrefix(String prefix) {
    return guard(
        kv.delete(prefix, true, OptionalLong.empty())
            .map(written -> new Counted(written.count(), seen(written.revision()))));
  }

  @Override
  public Flux<KvWatchEvent> watchKv(String prefix, long fromRevision) {
    return Flux.defer(
        () -> {
          KvView view = new KvView(kv);
          return watcher
              .watch(layout.kv(prefix), fromRevision)
              .doOnNext(batch -> seen(batch.revision()))
              .concatMapIterable(view::apply)
              .onErrorMap(EtcdNameStore::unavailable);
        });
  }

  /**
   * A linearizable read of one key: etcd answers it only with a quorum behind its leader, so it
   * fails while the cluster has none, or this node cannot reach it.
   */
  @Override
  public Mono<Void> checkHealth() {
    return Rx.call(() -> client.getKVClient().get(layout.kv("")))
        .timeout(HEALTH_TIMEOUT)
        .onErrorMap(
            error ->
                error instanceof TimeoutException
                    ? new NameStoreException(
                        StatusCode.UNAVAILABLE,
                        "etcd did not answer a read within " + HEALTH_TIMEOUT.toMillis() + " ms")
                    : unavailable(error))
        .then();
  }

  @Override
  public Mono<Void> close() {
    return Mono.defer(
        () -> {
          if (!closed.compareAndSet(false, true)) {
            return Mono.empty();
          }
          sessionWatch.dispose();
          // Closing shuts gRPC channels and Vert.x down; keep it off the caller's thread.
          return Mono.<Void>fromRunnable(
                  () -> {
                    try {
                      client.close();
                    } finally {
                      afterClose.run();
                    }
                  })
              .subscribeOn(Schedulers.boundedElastic());
        });
  }

  /** Maps every failure that is not already a refusal to {@code UNAVAILABLE}. */
  static <T> Mono<T> guard(Mono<T> call) {
    return call.onErrorMap(EtcdNameStore::unavailable);
  }

  static Throwable unavailable(Throwable error) {
    if (error instanceof NameStoreException) {
      return error;
    }
    return new NameStoreException(StatusCode.UNAVAILABLE, "etcd: " + error.getMessage(), error);
  }

  private static NameStoreException compareFailed(
      String verb, String key, long expected, long actual, long now) {
    return new NameStoreException(
        StatusCode.FAILED_PRECONDITION,
        "compare-and-"
            + verb
            + " of key \""
            + key
            + "\" failed: expected mod_revision "
            + Long.toUnsignedString(expected)
            + (expected == 0 ? " (absent)" : "")
            + ", but the key "
            + (actual == 0 ? "does not exist" : "has mod_revision " + Long.toUnsignedString(actual))
            + "; current revision "
            + now);
  }

  static String utf8(ByteSequence bytes) {
    return bytes.toString(StandardCharsets.UTF_8);
  }
}

package io.skymesh.nameserver.internal;

import com.google.protobuf.ByteString;
import io.skymesh.nameserver.spi.Counted;
import io.skymesh.nameserver.spi.KvRead;
import io.skymesh.nameserver.spi.NameStore;
import io.skymesh.nameserver.spi.NameStoreException;
import io.skymesh.nameserver.spi.ServiceSelector;
import io.skymesh.nameserver.spi.StoreSession;
import io.skymesh.proto.Instance;
import io.skymesh.proto.KvEntry;
import io.skymesh.proto.KvSnapshot;
import io.skymesh.proto.KvWatchEvent;
import io.skymesh.proto.Snapshot;
import io.skymesh.proto.StatusCode;
import io.skymesh.proto.WatchEvent;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;
import reactor.core.publisher.Flux;
import reactor.core.publisher.FluxSink;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * The embedded, in-memory store behind the storage SPI: the same writer-confined parts the protocol
 * dispatch uses ({@link InstanceTable}, {@link Watches}, {@link Elections}, {@link KvSpace}, {@link
 * Revisions}), on a writer of its own. Every call is handed to the writer and its result signalled
 * there; watch events are signalled on the writer as changes are applied. Sessions cannot be
 * resumed: {@link #resume} is always empty and {@link StoreSession#detach()} ends the session.
 *
 * <p>The reference implementation of the SPI's semantics, tested through the SPI alone; the
 * protocol dispatch does not drive a {@code NameStore} yet.
 */
final class EmbeddedStore implements NameStore {

  private final Scheduler writer;
  private final SerialExecutor executor;
  private final String storeId;
  private final Revisions revisions;
  private final Watches watches;
  private final Elections elections;
  private final InstanceTable instances;
  private final KvSpace kv;
  private long sessionNumbers;

  /**
   * @param historyLimit the changes kept for watches that resume
   * @param historyBytesLimit their serialized size
   * @param initialRevision the revision before the first change
   */
  EmbeddedStore(int historyLimit, long historyBytesLimit, long initialRevision) {
    this.writer = Schedulers.newSingle("skymesh-embedded-store", true);
    this.executor = new SerialExecutor(writer, () -> {});
    this.storeId = Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 16);
    this.revisions = new Revisions(initialRevision, null, 0);
    this.watches = new Watches(new History(historyLimit, historyBytesLimit, initialRevision));
    this.elections = new Elections(revisions, watches, 0, null, 0);
    this.instances = new InstanceTable(revisions, watches, elections);
    this.kv = new KvSpace(revisions, watches, null, Map.of());
  }

  @Override
  public long revision() {
    return revisions.published();
  }

  @Override
  public boolean resumable() {
    return false;
  }

  @Override
  public Mono<StoreSession> openSession(String appId, Duration ttl) {
    return onWriter(() -> new EmbeddedSession(storeId + "-" + ++sessionNumbers, appId, ttl));
  }

  @Override
  public Mono<StoreSession> resume(String sessionId, String appId) {
    return Mono.empty();
  }

  @Override
  public Flux<WatchEvent> watch(ServiceSelector selector, long fromRevision) {
    return Flux.create(
        sink -> {
          FluxWatch<WatchEvent> target = new FluxWatch<>(sink);
          executor.execute(
              () ->
                  target.start(
                      WatchState.instances(
                          target, 0, selector.serviceName(), selector.prefix(), fromRevision)));
          sink.onDispose(() -> executor.execute(target::stop));
        });
  }

  @Override
  public Flux<KvWatchEvent> watchKv(String prefix, long fromRevision) {
    return Flux.create(
        sink -> {
          FluxWatch<KvWatchEvent> target = new FluxWatch<>(sink);
          executor.execute(() -> target.start(WatchState.kv(target, 0, prefix, fromRevision)));
          sink.onDispose(() -> executor.execute(target::stop));
        });
  }

  @Override
  public Mono<Counted> clearServices(String urlPrefix) {
    return onWriter(
        () -> new Counted(instances.removeStartingWith(urlPrefix, "cleared"), revisions.current()));
  }

  @Override
  public Mono<KvRead> kvGet(String key) {
    return onWriter(
        () -> {
          KvEntry entry = kv.get(key);
          return new KvRead(entry == null ? List.of() : List.of(entry), revisions.current());
        });
  }

  @Override
  public Mono<KvRead> kvList(String prefix) {
    return onWriter(() -> new KvRead(new ArrayList<>(kv.list(prefix)), revisions.current()));
  }

  @Override
  public Mono<Long> kvPut(String key, ByteString value, OptionalLong expectedModRevision) {
    return onWriter(
        () -> {
          compare("put", key, expectedModRevision);
          return kv.put(key, value).revision();
        });
  }

  @Override
  public Mono<Counted> kvDelete(String key, OptionalLong expectedModRevision) {
    return onWriter(
        () -> {
          compare("delete", key, expectedModRevision);
          if (kv.get(key) == null) {
            return new Counted(0, revisions.current());
          }
          return new Counted(1, kv.delete(key).revision());
        });
  }

  @Override
  public Mono<Counted> kvDeletePrefix(String prefix) {
    return onWriter(() -> new Counted(kv.deleteStartingWith(prefix).count(), revisions.current()));
  }

  @Override
  public Mono<Void> close() {
    return Mono.fromRunnable(writer::dispose);
  }

  @Override
  public String toString() {
    return "embedded store " + storeId;
  }

  private void compare(String verb, String key, OptionalLong expected) {
    if (expected.isEmpty()) {
      return;
    }
    KvEntry existing = kv.get(key);
    long actual = existing == null ? 0 : existing.getModRevision();
    if (actual != expected.getAsLong()) {
      throw new NameStoreException(
          StatusCode.FAILED_PRECONDITION,
          "compare-and-"
              + verb
              + " of key \""
              + key
              + "\" failed: expected mod_revision "
              + expected.getAsLong()
              + ", but the key "
              + (existing == null ? "does not exist" : "has mod_revision " + actual));
    }
  }

  /** Runs {@code work} on the writer and signals its result (or its exception) there. */
  private <T> Mono<T> onWriter(Callable<T> work) {
    return Mono.create(
        sink ->
            executor.execute(
                () -> {
                  T result;
                  try {
                    result = work.call();
                  } catch (Exception e) {
                    sink.error(e);
                    return;
                  }
                  sink.success(result);
                }));
  }

  /** A watch whose events go to a flux; the consumer requests everything (see the SPI). */
  private final class FluxWatch<T> implements WatchSink {
    private final FluxSink<T> sink;
    private WatchState state;
    private boolean stopped;

    FluxWatch(FluxSink<T> sink) {
      this.sink = sink;
    }

    void start(WatchState watch) {
      if (stopped) {
        return;
      }
      state = watch;
      watches.add(watch);
      watches.catchUp(watch, revisions.current());
    }

    void stop() {
      if (!stopped && state != null) {
        watches.remove(state);
      }
      stopped = true;
    }

    @Override
    @SuppressWarnings("unchecked")
    public void offerEvent(WatchState watch, SharedEvent event) {
      watch.emittedAny = true;
      sink.next((T) (event.kv() ? event.kvEvent() : event.event()));
    }

    @Override
    @SuppressWarnings("unchecked")
    public void requestSnapshot(WatchState watch) {
      boolean resync = watch.snapshotIsResync();
      watch.emittedAny = true;
      if (watch.kv) {
        sink.next(
            (T)
                KvWatchEvent.newBuilder()
                    .setRevision(revisions.current())
                    .setSnapshot(
                        KvSnapshot.newBuilder()
                            .setResync(resync)
                            .addAllEntries(kv.list(watch.prefix)))
                    .build());
      } else {
        Snapshot.Builder snapshot = Snapshot.newBuilder().setResync(resync);
        instances.addInstances(snapshot, watch);
        elections.addLeaders(snapshot, watch);
        sink.next(
            (T)
                WatchEvent.newBuilder()
                    .setRevision(revisions.current())
                    .setSnapshot(snapshot)
                    .build());
      }
    }

    @Override
    public String toString() {
      return "store watch";
    }
  }

  /** A session of this store: the holder of its instances. */
  private final class EmbeddedSession implements StoreSession, InstanceHolder {
    private final String id;
    private final String appId;
    private final Duration ttl;
    private final Set<String> owned = new LinkedHashSet<>();
    private boolean ended;

    EmbeddedSession(String id, String appId, Duration ttl) {
      this.id = id;
      this.appId = appId;
      this.ttl = ttl;
    }

    @Override
    public String id() {
      return id;
    }

    @Override
    public Set<String> owned() {
      return owned;
    }

    @Override
    public String appId() {
      return appId;
    }

    @Override
    public Duration ttl() {
      return ttl;
    }

    @Override
    public Mono<Long> register(Instance instance) {
      return onWriter(
          () -> {
            live();
            String url = instance.getUrl();
            InstanceTable.Live existing = instances.get(url);
            if (existing != null && existing.owner() != this) {
              throw new NameStoreException(
                  StatusCode.ALREADY_EXISTS,
                  url
                      + " is already registered by another live session ("
                      + existing.owner().id()
                      + ")");
            }
            return instances.register(this, url, Ranges.serviceNameOf(url), instance);
          });
    }

    @Override
    public Mono<Long> deregister(String url) {
      return onWriter(() -> instances.remove(held(url), "deregistered"));
    }

    @Override
    public Mono<Long> setAttributes(String url, Map<String, String> attributes, boolean merge) {
      return onWriter(() -> instances.setAttributes(held(url), attributes, merge));
    }

    @Override
    public Mono<Long> campaign(String url) {
      return onWriter(() -> elections.campaign(held(url)));
    }

    @Override
    public Mono<Long> resign(String url) {
      return onWriter(
          () -> {
            elections.leave(held(url));
            return revisions.current();
          });
    }

    @Override
    public Mono<Void> close(String reason) {
      return onWriter(
              () -> {
                if (!ended) {
                  ended = true;
                  for (String url : new ArrayList<>(owned)) {
                    instances.remove(url, reason);
                  }
                }
                return Boolean.TRUE;
              })
          .then();
    }

    @Override
    public Mono<Void> detach() {
      return close("session closed");
    }

    @Override
    public Mono<String> ended() {
      // This store never ends a session on its own: the server ends it (TTL, connection).
      return Mono.never();
    }

    private void live() {
      if (ended) {
        throw new NameStoreException(
            StatusCode.FAILED_PRECONDITION, "session " + id + " has ended");
      }
    }

    private String held(String url) {
      live();
      InstanceTable.Live live = instances.get(url);
      if (live == null || live.owner() != this) {
        throw new NameStoreException(
            StatusCode.NOT_FOUND,
            "this session holds no instance "
                + url
                + (live == null ? "" : " (another session registered it)"));
      }
      return url;
    }

    @Override
    public String toString() {
      return "store session " + id;
    }
  }
}

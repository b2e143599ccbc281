package io.skymesh.nameserver.etcd.internal;

import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.op.Cmp;
import io.skymesh.nameserver.spi.NameStoreException;
import io.skymesh.nameserver.spi.StoreSession;
import io.skymesh.proto.Instance;
import io.skymesh.proto.StatusCode;
import java.time.Duration;
import java.util.Collection;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Schedulers;

/**
 * A session held by this node: its lease kept alive, its record judged by the node's one watch of
 * every session record (see {@link EtcdNameStore#track}), so that a takeover by another node (a
 * resume) or the lease's loss ends it here. Every write that depends on the session still being
 * ours compares the record's owner in the same transaction.
 */
final class EtcdStoreSession implements StoreSession {

  private static final Logger log = LoggerFactory.getLogger(EtcdStoreSession.class);

  /**
   * How many times per TTL this node renews a session's lease itself, besides jetcd's managed
   * keepalive (which renews only a third of the TTL after each renewal): a node that stops (frozen,
   * starved) leaves each of its leases at least 9/10 of the TTL, more than the 3/4 TTL a client
   * takes at worst to leave a silent node, so the client resumes the session before it lapses.
   */
  static final int RENEWALS_PER_TTL = 10;

  private final EtcdNameStore store;
  private final String id;
  private final long leaseId;
  private final String appId;
  private final String owner;
  private final Duration ttl;
  private final Set<String> held = ConcurrentHashMap.newKeySet();
  private final Sinks.One<String> ended = Sinks.one();

  /** Set once the session ends here, for whatever reason. */
  private final AtomicBoolean over = new AtomicBoolean();

  /** Set while a renewal relayed from a client's KeepAlive is in flight. */
  private final AtomicBoolean relaying = new AtomicBoolean();

  private volatile Disposable keepAlive;
  private volatile Disposable renewals;
  private volatile long recordRevision;

  private EtcdStoreSession(
      EtcdNameStore store,
      String id,
      long leaseId,
      String appId,
      String owner,
      Duration ttl,
      Collection<String> held) {
    this.store = store;
    this.id = id;
    this.leaseId = leaseId;
    this.appId = appId;
    this.owner = owner;
    this.ttl = ttl;
    this.held.addAll(held);
  }

  static EtcdStoreSession start(
      EtcdNameStore store,
      String id,
      long leaseId,
      String appId,
      String owner,
      Duration ttl,
      long recordRevision,
      Collection<String> held) {
    EtcdStoreSession session = new EtcdStoreSession(store, id, leaseId, appId, owner, ttl, held);
    session.keepAlive =
        store
            .sessions()
            .keepAlive(leaseId)
            .subscribe(
                renewed -> {},
                error ->
                    session.endHere(
                        error instanceof SessionLostException
                            ? "session expired"
                            : "session lost"));
    Duration every = ttl.dividedBy(RENEWALS_PER_TTL);
    session.renewals =
        Flux.interval(every, every, Schedulers.parallel())
            .onBackpressureDrop()
            .concatMap(tick -> session.renewOnce(every), 1)
            .subscribe(
                renewed -> {
                  if (renewed <= 0) {
                    session.endHere("session expired");
                  }
                });
    session.recordRevision = recordRevision;
    store.track(session);
    if (session.over.get()) {
      session.stopWatching(); // ended while starting: stop what started after its end
    }
    return session;
  }

  /**
   * One renewal, given up after {@code within} (jetcd's one-shot keepalive stream has no deadline
   * and may stay unanswered while it reconnects), so that a stalled one never holds up the next.
   */
  private Mono<Long> renewOnce(Duration within) {
    return store
        .sessions()
        .renewOnce(leaseId)
        .timeout(within, Schedulers.parallel())
        .onErrorResume(this::notRenewed);
  }

  /**
   * A renewal that failed for another reason than the lease's end: the next one is due within a
   * tenth of the TTL, and jetcd's managed keepalive, which reconnects, reports a lasting outage.
   */
  private Mono<Long> notRenewed(Throwable error) {
    log.debug("session {}: a renewal failed ({}); renewing again shortly", id, error.toString());
    return Mono.empty();
  }

  /** The revision at which this holder took the session record. */
  long recordRevision() {
    return recordRevision;
  }

  /**
   * The session record as the node's watch of every record now sees it (null: deleted): anything
   * but this holder's record ends the session here.
   */
  void judge(KeyValue record) {
    if (record == null) {
      endHere("session expired");
    } else if (!EtcdNameStore.utf8(record.getValue()).equals(EtcdSessions.record(appId, owner))) {
      endHere("session resumed on another connection");
    }
  }

  /** The store ended the session: stop keeping it, and tell the server. */
  void endHere(String reason) {
    if (over.compareAndSet(false, true)) {
      stopWatching();
      log.debug("session {} ended: {}", id, reason);
      ended.tryEmitValue(reason);
    }
  }

  private void stopWatching() {
    Disposable k = keepAlive;
    if (k != null) {
      k.dispose();
    }
    Disposable r = renewals;
    if (r != null) {
      r.dispose();
    }
    store.untrack(this);
  }

  @Override
  public String id() {
    return id;
  }

  @Override
  public String appId() {
    return appId;
  }

  @Override
  public Duration ttl() {
    return ttl;
  }

  private Cmp ours() {
    return store.sessions().ownedBy(id, appId, owner);
  }

  private <T> Mono<T> live(Mono<T> call) {
    return Mono.defer(
        () ->
            over.get()
                ? Mono.error(
                    new NameStoreException(
                        StatusCode.FAILED_PRECONDITION, "session " + id + " has ended"))
                : EtcdNameStore.guard(call));
  }

  @Override
  public Mono<Long> register(Instance instance) {
    return live(
        store
            .services()
            .register(instance, leaseId)
            .flatMap(
                registered -> {
                  long revision = store.seen(registered.revision());
                  if (!registered.registered()) {
                    return Mono.error(
                        new NameStoreException(
                            StatusCode.ALREADY_EXISTS,
                            instance.getUrl()
                                + " is already registered by another live session; it is free"
                                + " again once that session deregisters it, closes or expires"));
                  }
                  held.add(instance.getUrl());
                  return Mono.just(revision);
                })
            .onErrorMap(this::leaseGone));
  }

  /** A write under a lease etcd no longer has: the session is gone. */
  private Throwable leaseGone(Throwable error) {
    String message = String.valueOf(error.getMessage());
    if (!(error instanceof NameStoreException) && message.contains("lease not found")) {
      endHere("session expired");
      return new NameStoreException(
          StatusCode.FAILED_PRECONDITION, "session " + id + " has expired", error);
    }
    return error;
  }

  /** The instance this session holds at {@code url}, or NOT_FOUND. */
  private Mono<EtcdServices.Held> mine(String url) {
    return store
        .services()
        .instance(url)
        .flatMap(
            found -> {
              if (found.isPresent() && found.get().leaseId() == leaseId) {
                return Mono.just(found.get());
              }
              held.remove(url);
              return Mono.error(
                  new NameStoreException(
                      StatusCode.NOT_FOUND,
                      "this session holds no instance "
                          + url
                          + (found.isPresent() ? " (another session registered it)" : "")));
            });
  }

  @Override
  public Mono<Long> deregister(String url) {
    return live(
        mine(url)
            .flatMap(
                mine ->
                    store
                        .services()
                        .resignIfCampaigning(url, ours())
                        .map(store::seen)
                        .then(
                            store
                                .services()
                                .remove(
                                    url,
                                    mine.instance().getModRevision(),
                                    leaseId,
                                    "deregistered",
                                    ours())))
            .flatMap(
                revision -> {
                  if (revision == 0) {
                    // The instance changed between the read and the removal: read it again.
                    return deregister(url);
                  }
                  held.remove(url);
                  return Mono.just(store.seen(revision));
                }));
  }

  @Override
  public Mono<Long> setAttributes(String url, Map<String, String> attributes, boolean merge) {
    return live(
        mine(url)
            .flatMap(
                mine -> {
                  Instance.Builder changed = mine.instance().toBuilder();
                  if (!merge) {
                    changed.clearAttributes();
                  }
                  changed.putAllAttributes(attributes);
                  return store
                      .services()
                      .replace(changed.build(), mine.instance().getModRevision(), leaseId);
                })
            .flatMap(
                revision ->
                    revision == 0
                        ? setAttributes(url, attributes, merge)
                        : Mono.just(store.seen(revision))));
  }

  @Override
  public Mono<Long> campaign(String url) {
    return live(
        mine(url)
            .flatMap(
                mine -> store.services().campaign(url, leaseId, mine.instance().getModRevision()))
            .flatMap(
                created -> {
                  if (created == 0) {
                    return campaign(url); // the instance changed meanwhile: check it again
                  }
                  if (created < 0) {
                    return Mono.just(store.revision()); // already campaigning: keeps its place
                  }
                  store.seen(created);
                  String service = url.substring(0, url.indexOf('/'));
                  return store
                      .services()
                      .leader(service)
                      .map(
                          leader ->
                              leader.isPresent()
                                      && leader.get().url().equals(url)
                                      && leader.get().term() == created
                                  ? created
                                  : store.revision());
                }));
  }

  @Override
  public Mono<Long> resign(String url) {
    return live(
        mine(url)
            .flatMap(mine -> store.services().resign(url, ours()))
            .map(revision -> revision == 0 ? store.revision() : store.seen(revision)));
  }

  @Override
  public Mono<Void> close(String reason) {
    return Mono.defer(
        () -> {
          if (!over.compareAndSet(false, true)) {
            return Mono.empty();
          }
          stopWatching();
          return Flux.fromIterable(Set.copyOf(held))
              .concatMap(url -> removeOnClose(url, reason))
              .then(store.sessions().close(id, leaseId, appId, owner))
              .then()
              .onErrorMap(EtcdNameStore::unavailable);
        });
  }

  /** Resigns and removes one instance, as long as the session is still this node's. */
  private Mono<Long> removeOnClose(String url, String reason) {
    return store
        .services()
        .instance(url)
        .filter(found -> found.isPresent() && found.get().leaseId() == leaseId)
        .flatMap(
            found ->
                store
                    .services()
                    .resignIfCampaigning(url, ours())
                    .map(store::seen)
                    .then(
                        store
                            .services()
                            .remove(
                                url,
                                found.get().instance().getModRevision(),
                                leaseId,
                                reason,
                                ours())))
        .map(store::seen);
  }

  @Override
  public Mono<Void> detach() {
    return Mono.fromRunnable(
        () -> {
          if (over.compareAndSet(false, true)) {
            // Stop renewing: the lease lapses after its TTL unless another node resumes it.
            stopWatching();
          }
        });
  }

  /** Renews the lease now, unless a relayed renewal is still in flight or the session is over. */
  @Override
  public void keptAlive() {
    if (over.get() || !relaying.compareAndSet(false, true)) {
      return;
    }
    renewOnce(ttl.dividedBy(RENEWALS_PER_TTL))
        .doFinally(signal -> relaying.set(false))
        .subscribe(
            renewed -> {
              if (renewed <= 0) {
                endHere("session expired");
              }
            });
  }

  @Override
  public Mono<String> ended() {
    return ended.asMono();
  }
}

package io.skymesh.nameserver.etcd.internal;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.common.exception.ErrorCode;
import io.etcd.jetcd.common.exception.EtcdException;
import io.etcd.jetcd.lease.LeaseKeepAliveResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.PutOption;
import io.etcd.jetcd.support.CloseableClient;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.FluxSink;
import reactor.core.publisher.Mono;

/**
 * Sessions as etcd leases. A session's id is its lease id in hex; its record {@code sess/ID} is
 * attached to the lease and names the node connection that holds it ("owner"), so that handing a
 * session to another node ({@link #resume}) and closing it ({@link #close}) are transactions on
 * that record: a node whose session was taken over cannot revoke it any more.
 *
 * <p>Every method is lazy and non-blocking; signals arrive on jetcd's threads.
 */
public final class EtcdSessions {

  private static final Logger log = LoggerFactory.getLogger(EtcdSessions.class);

  private final Client client;
  private final EtcdLayout layout;

  /**
   * Sessions of {@code client} laid out by {@code layout}.
   *
   * @param client the etcd client
   * @param layout the key layout
   */
  public EtcdSessions(Client client, EtcdLayout layout) {
    this.client = client;
    this.layout = layout;
  }

  /**
   * A granted session.
   *
   * @param id the session id (the lease id in hex)
   * @param leaseId the lease
   * @param ttlSeconds the TTL etcd granted
   * @param revision the revision of the session record
   */
  public record Granted(String id, long leaseId, long ttlSeconds, long revision) {}

  /**
   * Grants a lease of at least {@code ttl} (whole seconds, etcd's unit) and writes the session
   * record owned by {@code owner}.
   *
   * @param ttl the session TTL
   * @param appId the application the session acts for
   * @param owner who holds the session (a node connection)
   * @return the session
   */
  public Mono<Granted> open(Duration ttl, String appId, String owner) {
    long seconds = Math.max(1, (ttl.toMillis() + 999) / 1000);
    return Rx.call(() -> client.getLeaseClient().grant(seconds))
        .flatMap(
            grant -> {
              String id = Long.toHexString(grant.getID());
              return Rx.call(
                      () ->
                          client
                              .getKVClient()
                              .put(
                                  layout.session(id),
                                  EtcdLayout.bytes(record(appId, owner)),
                                  PutOption.builder().withLeaseId(grant.getID()).build()))
                  .map(
                      put ->
                          new Granted(
                              id, grant.getID(), grant.getTTL(), put.getHeader().getRevision()));
            });
  }

  /**
   * Takes a live session of {@code appId} over for {@code owner}: resumed if the session's record
   * existed (its lease had not expired and it was not closed), was {@code appId}'s, and now names
   * {@code owner}.
   *
   * @param sessionId the session's id
   * @param appId the application of the new holder
   * @param owner the new holder
   * @return whether the session was taken over
   */
  public Mono<Resumed> resume(String sessionId, String appId, String owner) {
    long leaseId;
    try {
      leaseId = Long.parseUnsignedLong(sessionId, 16);
    } catch (NumberFormatException e) {
      return Mono.just(Resumed.NONE);
    }
    ByteSequence key = layout.session(sessionId);
    return Rx.call(() -> client.getKVClient().get(key))
        .flatMap(
            got -> {
              if (got.getKvs().isEmpty()
                  || got.getKvs().get(0).getLease() != leaseId
                  || !appIdOf(got.getKvs().get(0)).equals(appId)) {
                return Mono.just(Resumed.NONE);
              }
              KeyValue record = got.getKvs().get(0);
              return Rx.call(
                      () ->
                          client
                              .getKVClient()
                              .txn()
                              .If(
                                  new Cmp(
                                      key,
                                      Cmp.Op.EQUAL,
                                      CmpTarget.modRevision(record.getModRevision())))
                              .Then(
                                  Op.put(
                                      key,
                                      EtcdLayout.bytes(record(appId, owner)),
                                      PutOption.builder().withLeaseId(leaseId).build()))
                              .commit())
                  .flatMap(
                      txn ->
                          txn.isSucceeded()
                              // Renewed at once: it may have had less than a second left
                              // (which etcd's TimeToLive reports as 0 seconds, like an expiry).
                              ? renewOnce(leaseId)
                                  .map(
                                      ttl ->
                                          ttl > 0
                                              ? new Resumed(
                                                  leaseId, ttl, txn.getHeader().getRevision())
                                              : Resumed.NONE)
                              : Mono.just(Resumed.NONE));
            });
  }

  /**
   * The outcome of {@link #resume}.
   *
   * @param leaseId the session's lease, or 0 if it was not resumed
   * @param ttlSeconds the lease's granted TTL
   * @param revision the revision at which the record changed hands
   */
  public record Resumed(long leaseId, long ttlSeconds, long revision) {
    static final Resumed NONE = new Resumed(0, 0, 0);

    /** Whether the session was taken over. */
    public boolean resumed() {
      return leaseId != 0;
    }
  }

  /**
   * Ends a session that {@code owner} still holds: deletes its record, then revokes its lease,
   * which deletes every key attached to it (instances, campaigns). A session taken over by another
   * owner is left alone.
   *
   * @param sessionId the session's id
   * @param leaseId its lease
   * @param appId the application it acts for
   * @param owner who holds it
   * @return true if this call ended the session
   */
  public Mono<Boolean> close(String sessionId, long leaseId, String appId, String owner) {
    ByteSequence key = layout.session(sessionId);
    return Rx.call(
            () ->
                client
                    .getKVClient()
                    .txn()
                    .If(ownedBy(sessionId, appId, owner))
                    .Then(Op.delete(key, io.etcd.jetcd.options.DeleteOption.DEFAULT))
                    .commit())
        .flatMap(txn -> txn.isSucceeded() ? revoke(leaseId).thenReturn(true) : Mono.just(false));
  }

  /**
   * The compare "the session record still names this owner", to guard a session's writes.
   *
   * @param sessionId the session's id
   * @param appId the application it acts for
   * @param owner who holds it
   * @return the compare
   */
  public Cmp ownedBy(String sessionId, String appId, String owner) {
    return new Cmp(
        layout.session(sessionId),
        Cmp.Op.EQUAL,
        CmpTarget.value(EtcdLayout.bytes(record(appId, owner))));
  }

  /** The session record's value. */
  static String record(String appId, String owner) {
    return appId + "\n" + owner;
  }

  private static String appIdOf(KeyValue record) {
    String value = record.getValue().toString(java.nio.charset.StandardCharsets.UTF_8);
    int newline = value.indexOf('\n');
    return newline < 0 ? "" : value.substring(0, newline);
  }

  /**
   * Revokes a lease, deleting every key attached to it; a lease already gone is not an error.
   *
   * @param leaseId the lease
   * @return completes when revoked
   */
  public Mono<Void> revoke(long leaseId) {
    return Rx.call(() -> client.getLeaseClient().revoke(leaseId))
        .then()
        .onErrorResume(EtcdSessions::leaseNotFound, e -> Mono.empty());
  }

  /**
   * Keeps a lease alive while subscribed: emits the TTL etcd renews it with, and fails with {@link
   * SessionLostException} when etcd no longer has the lease (it expired) or no renewal came within
   * the TTL. Transient connection errors are logged; jetcd reconnects and keeps renewing.
   * Cancelling stops renewing (the lease then expires unless revoked first).
   *
   * @param leaseId the lease
   * @return the renewals
   */
  public Flux<Long> keepAlive(long leaseId) {
    return Flux.create(
        sink -> {
          AtomicBoolean stopped = new AtomicBoolean();
          CloseableClient keeping =
              client.getLeaseClient().keepAlive(leaseId, new Renewals(leaseId, sink, stopped));
          sink.onDispose(
              () -> {
                stopped.set(true);
                keeping.close();
              });
        },
        FluxSink.OverflowStrategy.LATEST);
  }

  /**
   * Renews a lease once: the TTL etcd renewed it with, 0 or less if etcd no longer has it.
   *
   * @param leaseId the lease
   * @return the renewed TTL in seconds
   */
  public Mono<Long> renewOnce(long leaseId) {
    return Rx.call(() -> client.getLeaseClient().keepAliveOnce(leaseId))
        .map(LeaseKeepAliveResponse::getTTL)
        .onErrorResume(EtcdSessions::leaseNotFound, e -> Mono.just(0L));
  }

  private static boolean leaseNotFound(Throwable e) {
    return e instanceof EtcdException etcd && etcd.getErrorCode() == ErrorCode.NOT_FOUND;
  }

  private record Renewals(long leaseId, FluxSink<Long> sink, AtomicBoolean stopped)
      implements StreamObserver<LeaseKeepAliveResponse> {

    @Override
    public void onNext(LeaseKeepAliveResponse response) {
      sink.next(response.getTTL());
    }

    @Override
    public void onError(Throwable t) {
      if (stopped.get()) {
        return;
      }
      if (leaseNotFound(t)) {
        sink.error(new SessionLostException(leaseId, "its lease expired"));
      } else {
        log.warn(
            "lease {}: keepalive interrupted ({}); reconnecting",
            Long.toHexString(leaseId),
            t.toString());
      }
    }

    @Override
    public void onCompleted() {
      if (!stopped.get()) {
        sink.error(new SessionLostException(leaseId, "no renewal within its TTL"));
      }
    }
  }
}

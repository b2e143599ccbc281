package io.skymesh.nameserver.spi;

import com.google.protobuf.ByteString;
import io.skymesh.proto.KvWatchEvent;
import io.skymesh.proto.WatchEvent;
import java.time.Duration;
import java.util.OptionalLong;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Where the name server's state lives: sessions, the instances and campaigns they hold, elections
 * and their terms, KV entries, and one revision counter over all of them. The protocol dispatch
 * (frames, validation, the connection as session, bounded outbound queues, limits, errors) decides
 * and drives; the store keeps state and orders changes.
 *
 * <p><b>Revisions.</b> Every change (an instance added, updated or removed, a leader change, a key
 * put or deleted) gets the next revision of one store-wide counter that only grows, also across
 * restarts of a durable store (etcd: etcd's revision, the same on every node). A revision may skip
 * values (etcd's does); it never repeats or goes back.
 *
 * <p><b>Threading.</b> The server calls every method from its writer thread, one call at a time,
 * and never blocks on the result: a store must not block in any method (no file or network I/O on
 * the calling thread; BlockHound checks). Results and watch signals may arrive on any thread (an
 * etcd client's gRPC threads, the store's own I/O thread, or synchronously on the calling thread);
 * the server moves them to its writer. Every reactive method is lazy: nothing happens until
 * subscription. Refusals and failures arrive as {@code onError} with a {@link NameStoreException}.
 *
 * <p><b>Watches.</b> {@link #watch} and {@link #watchKv} return a snapshot then every change after
 * it, in revision order, never duplicated. The server requests {@code Long.MAX_VALUE} and bounds
 * its memory itself: when a watcher cannot keep up it cancels the {@code Flux} and later watches
 * again (from the last revision it delivered, or from 0 for a fresh snapshot). A store therefore
 * may push without backpressure, but must stop promptly on cancel.
 *
 * <p>This SPI has no compatibility promise yet.
 */
public interface NameStore {

  /**
   * The latest revision this store has applied or seen, without I/O. Any thread.
   *
   * @return the current revision; 0 before the first change of a new store
   */
  long revision();

  /**
   * Whether a session outlives its connection until its TTL lapses, so that {@link #resume} can
   * find it (etcd: yes, on any node). The embedded store says no: its sessions end with their
   * connection, and {@link #resume} always comes back empty.
   *
   * @return true if sessions can be resumed
   */
  boolean resumable();

  /**
   * Opens a session (etcd: grants a lease of {@code ttl}).
   *
   * @param appId the application the session acts for, already checked
   * @param ttl the TTL the server granted the client; the store may round it up (etcd: to whole
   *     seconds) and says which in {@link StoreSession#ttl()}
   * @return the new session
   */
  Mono<StoreSession> openSession(String appId, Duration ttl);

  /**
   * Takes over a live session by id, with every instance and campaign it holds (etcd: the lease is
   * still alive); the node that held it before sees {@link StoreSession#ended()}.
   *
   * @param sessionId the id the client names
   * @param appId the application of the new connection; a session of another app is not resumed
   * @return the session, or empty when there is no such live session of that app (unknown, expired,
   *     or a store that cannot resume)
   */
  Mono<StoreSession> resume(String sessionId, String appId);

  /**
   * Watches the instances and leaders of a service or a ServiceName prefix. The first signal is a
   * {@code WatchEvent} carrying a {@code Snapshot} (every matching live instance, and the leader of
   * every matching service that has had one) at revision R, unless {@code fromRevision} is non-zero
   * and the store still has every change after it: then there is no snapshot and the changes after
   * {@code fromRevision} come first. A store that no longer has them (compacted, or a revision from
   * the future) sends a snapshot with {@code resync = true}. After the snapshot, every matching
   * change in revision order: {@code instance_added}, {@code instance_updated}, {@code
   * instance_removed}, {@code leader_changed}. Events carry no watch id (0). When a leader's
   * instance leaves, its {@code leader_changed} comes at a lower revision than its {@code
   * instance_removed}. Never completes on its own; errors when the store fails.
   *
   * @param selector the service or prefix
   * @param fromRevision 0 for a snapshot of now; otherwise the last revision the watcher has seen
   * @return the snapshot or replay, then the live changes
   */
  Flux<WatchEvent> watch(ServiceSelector selector, long fromRevision);

  /**
   * Removes every live instance whose url starts with {@code urlPrefix}, whoever holds it (reason
   * {@code "cleared"}), resigning their campaigns first.
   *
   * @param urlPrefix the ServiceUrl prefix; empty clears everything
   * @return how many were removed, and the revision of the last removal
   */
  Mono<Counted> clearServices(String urlPrefix);

  /**
   * Reads one key.
   *
   * @param key the key, already checked
   * @return the entry (none if absent) and the revision read at
   */
  Mono<KvRead> kvGet(String key);

  /**
   * Lists the keys under a prefix, in key order.
   *
   * @param prefix the prefix; empty lists every key
   * @return the entries and the revision read at
   */
  Mono<KvRead> kvList(String prefix);

  /**
   * Writes one key (etcd: a transaction comparing the key's mod revision when {@code
   * expectedModRevision} is present). The store sets {@code create_revision} (kept by later puts)
   * and {@code mod_revision}; KV watchers get a {@code put}.
   *
   * @param key the key, already checked
   * @param value the value, already checked against the server's maximum size
   * @param expectedModRevision when present, the write happens only if the key's mod revision
   *     equals it (0: only if the key does not exist)
   * @return the revision of the write; {@code FAILED_PRECONDITION} naming the key's actual mod
   *     revision when the compare fails
   */
  Mono<Long> kvPut(String key, ByteString value, OptionalLong expectedModRevision);

  /**
   * Deletes exactly one key ("a" never takes "ab" with it); KV watchers get a {@code deleted_key}.
   *
   * @param key the key, already checked
   * @param expectedModRevision when present, the delete happens only if the key's mod revision
   *     equals it
   * @return 1 and the revision of the delete, or 0 and the current revision when the key does not
   *     exist; {@code FAILED_PRECONDITION} when the compare fails
   */
  Mono<Counted> kvDelete(String key, OptionalLong expectedModRevision);

  /**
   * Deletes every key under a prefix, each at its own revision or all at one (etcd: one range
   * delete), each a {@code deleted_key} event.
   *
   * @param prefix the prefix; empty deletes every key
   * @return the number deleted and the revision of the last delete (the current one if none)
   */
  Mono<Counted> kvDeletePrefix(String prefix);

  /**
   * Watches the keys under a prefix, with the same rules as {@link #watch}: a {@code KvSnapshot}
   * (or a replay from {@code fromRevision}), then {@code put} and {@code deleted_key} events in
   * revision order. Events carry no watch id (0).
   *
   * @param prefix the key prefix; empty watches every key
   * @param fromRevision 0 for a snapshot of now; otherwise the last revision the watcher has seen
   * @return the snapshot or replay, then the live changes
   */
  Flux<KvWatchEvent> watchKv(String prefix, long fromRevision);

  /**
   * Whether the store can serve now: completes when it can, fails with the reason when it cannot
   * (its backend unreachable). Answers within a few seconds either way; the name server's health
   * check (the {@code HealthCheck} request and {@code /health}) asks it. The default, for a store
   * in the server's own process, always completes.
   *
   * @return completes when the store is reachable
   */
  default Mono<Void> checkHealth() {
    return Mono.empty();
  }

  /**
   * Releases what the store holds (files, clients, leases of sessions still open: a store that can
   * resume lets them lapse, so clients can resume on another node). Sessions are not closed one by
   * one first. Idempotent.
   *
   * @return completes once released
   */
  Mono<Void> close();
}

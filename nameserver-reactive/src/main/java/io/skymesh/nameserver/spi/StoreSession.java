package io.skymesh.nameserver.spi;

import io.skymesh.proto.Instance;
import java.time.Duration;
import java.util.Map;
import reactor.core.publisher.Mono;

/**
 * A session in a {@link NameStore}: the owner of instances and campaigns, alive while its holder
 * keeps it alive (embedded: in the server's memory; etcd: a lease the node keeps alive). Ending it
 * removes every instance it holds and resigns every election it campaigns in, and watchers see
 * those changes.
 *
 * <p>The store keeps an open session alive by itself (etcd: keeps its lease alive) until {@link
 * #detach()} or {@link #close(String)}; the server watches its client's liveness and closes the
 * session with reason {@code "session expired"} when the client falls silent for a TTL.
 *
 * <p>Threading: as {@link NameStore}. The server makes at most one call per session at a time: it
 * calls the next method only once the previous one's {@code Mono} has completed, so a store need
 * not order concurrent calls of one session. Every method is lazy and does its work once per
 * subscription. Refusals arrive as {@code onError} with a {@link NameStoreException}; a call on a
 * session that has ended fails with {@code FAILED_PRECONDITION}.
 */
public interface StoreSession {

  /**
   * The session's id, unique in the store, and what a client names to resume it.
   *
   * @return the id
   */
  String id();

  /**
   * The application the session acts for.
   *
   * @return the appId
   */
  String appId();

  /**
   * The TTL the store granted; the session ends if it is neither kept alive nor resumed within it.
   *
   * @return the granted TTL
   */
  Duration ttl();

  /**
   * Registers {@code instance} under this session, or replaces the one it already holds with the
   * same url (address, weight, attributes and process id; {@code create_revision} kept). The store
   * sets {@code create_revision} and {@code mod_revision}; watchers get {@code instance_added} or
   * {@code instance_updated}. The server has already checked the url (canonical), its appId and the
   * address.
   *
   * @param instance the instance, with its canonical url
   * @return the revision of the registration; {@code ALREADY_EXISTS} if another live session holds
   *     the url
   */
  Mono<Long> register(Instance instance);

  /**
   * Removes one of this session's instances (reason {@code "deregistered"}), after resigning its
   * election if it campaigns. The {@code Mono} completes once the removal is applied, so a client
   * shutting down may close its connection after the answer.
   *
   * @param url the canonical ServiceUrl
   * @return the revision of the removal; {@code NOT_FOUND} unless this session holds the url
   */
  Mono<Long> deregister(String url);

  /**
   * Sets or merges the attributes of one of this session's instances; watchers get {@code
   * instance_updated} with the whole instance.
   *
   * @param url the canonical ServiceUrl
   * @param attributes the attributes
   * @param merge false: they replace every attribute; true: they are merged into the current ones
   * @return the revision of the change; {@code NOT_FOUND} unless this session holds the url
   */
  Mono<Long> setAttributes(String url, Map<String, String> attributes, boolean merge);

  /**
   * Enters the election of the instance's service; the earliest live campaigner leads. Campaigning
   * again keeps the campaigner's place. A new leader's term is greater than every term the service
   * had before, across restarts of a durable store; the change is a {@code leader_changed} event.
   *
   * @param url the canonical ServiceUrl of one of this session's instances
   * @return the revision of the leader change if this campaigner became leader, else the current
   *     revision; {@code NOT_FOUND} unless this session holds the url
   */
  Mono<Long> campaign(String url);

  /**
   * Leaves the election; if the instance led, the next campaigner leads (or nobody, keeping the
   * term). Succeeds also when the instance was not campaigning.
   *
   * @param url the canonical ServiceUrl of one of this session's instances
   * @return the current revision after the change; {@code NOT_FOUND} unless this session holds the
   *     url
   */
  Mono<Long> resign(String url);

  /**
   * Ends the session now: resigns its campaigns, removes its instances with {@code reason} (for
   * example {@code "session closed"} or {@code "session expired"}), and forgets it. Ending a
   * session that has already ended, or that another server node has taken over by resuming it, does
   * nothing.
   *
   * @param reason the {@code InstanceRemoved.reason} of its instances
   * @return completes once the session's changes are applied
   */
  Mono<Void> close(String reason);

  /**
   * The client's connection is gone, but the client may resume the session on a new one. A store
   * that can resume ({@link NameStore#resumable()}) stops keeping the session alive, so that it
   * ends as expired unless {@link NameStore#resume resumed} within its TTL; a store that cannot
   * resume ends it now, as {@link #close(String) close("session closed")}.
   *
   * @return completes once the session is detached (or ended)
   */
  Mono<Void> detach();

  /**
   * The client sent a KeepAlive: a store whose sessions lapse on a clock of its own may renew the
   * session from now, so that it outlives the client's failover to another node. Must not block;
   * the default does nothing.
   */
  default void keptAlive() {}

  /**
   * Completes with a reason when the store ends the session on its own: its lease expired or was
   * lost, or another node resumed it. Never completes for a session ended by {@link #close}. The
   * server then closes the client's connection with that reason. Signals on any thread.
   *
   * @return the reason the store ended the session
   */
  Mono<String> ended();
}

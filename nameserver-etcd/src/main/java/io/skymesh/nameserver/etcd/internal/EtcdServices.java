package io.skymesh.nameserver.etcd.internal;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import io.skymesh.proto.Instance;
import java.util.List;
import java.util.Optional;
import reactor.core.publisher.Mono;

/**
 * Instances and elections in etcd. An instance is a key under its session's lease, created only if
 * absent; a campaign is a second key under the same lease, and the campaign with the lowest create
 * revision leads, with that create revision as its term: every later campaign key is created at a
 * higher revision, so a new leader's term is always higher than every term before it, on every node
 * and across etcd restarts. Lazy and non-blocking; signals arrive on jetcd's threads.
 */
public final class EtcdServices {

  private final Client client;
  private final EtcdLayout layout;

  /**
   * Instances and elections of {@code client} laid out by {@code layout}.
   *
   * @param client the etcd client
   * @param layout the key layout
   */
  public EtcdServices(Client client, EtcdLayout layout) {
    this.client = client;
    this.layout = layout;
  }

  /**
   * The outcome of a registration.
   *
   * @param registered false when another session holds the url
   * @param revision the revision of the registration, or the current revision
   */
  public record Registered(boolean registered, long revision) {}

  /**
   * Registers {@code instance} under the session's lease: created if its url is free, replaced if
   * this session already holds it, refused if another session does.
   *
   * @param instance the instance (its url canonical); create and mod revisions are etcd's
   * @param leaseId the session's lease
   * @return the outcome
   */
  public Mono<Registered> register(Instance instance, long leaseId) {
    ByteSequence key = layout.instance(instance.getUrl());
    ByteSequence value =
        ByteSequence.from(
            instance.toBuilder().clearCreateRevision().clearModRevision().build().toByteArray());
    PutOption underLease = PutOption.builder().withLeaseId(leaseId).build();
    return Rx.call(
            () ->
                client
                    .getKVClient()
                    .txn()
                    .If(new Cmp(key, Cmp.Op.EQUAL, CmpTarget.createRevision(0)))
                    .Then(Op.put(key, value, underLease))
                    .Else(Op.get(key, GetOption.DEFAULT))
                    .commit())
        .flatMap(
            txn -> {
              if (txn.isSucceeded()) {
                return Mono.just(new Registered(true, txn.getHeader().getRevision()));
              }
              List<KeyValue> held = txn.getGetResponses().get(0).getKvs();
              if (held.isEmpty()) {
                // Removed between the compare and now: try again.
                return register(instance, leaseId);
              }
              KeyValue current = held.get(0);
              if (current.getLease() != leaseId) {
                return Mono.just(new Registered(false, txn.getHeader().getRevision()));
              }
              return Rx.call(
                      () ->
                          client
                              .getKVClient()
                              .txn()
                              .If(
                                  new Cmp(
                                      key,
                                      Cmp.Op.EQUAL,
                                      CmpTarget.modRevision(current.getModRevision())))
                              .Then(Op.put(key, value, underLease))
                              .commit())
                  .flatMap(
                      replaced ->
                          replaced.isSucceeded()
                              ? Mono.just(new Registered(true, replaced.getHeader().getRevision()))
                              : register(instance, leaseId));
            });
  }

  /**
   * Replaces an instance this lease holds if its key is still at {@code modRevision}.
   *
   * @param instance the new instance
   * @param modRevision the instance key's mod revision as last read
   * @param leaseId the session's lease
   * @return the revision of the change, or 0 if the key changed meanwhile
   */
  public Mono<Long> replace(Instance instance, long modRevision, long leaseId) {
    ByteSequence key = layout.instance(instance.getUrl());
    ByteSequence value =
        ByteSequence.from(
            instance.toBuilder().clearCreateRevision().clearModRevision().build().toByteArray());
    return Rx.call(
            () ->
                client
                    .getKVClient()
                    .txn()
                    .If(new Cmp(key, Cmp.Op.EQUAL, CmpTarget.modRevision(modRevision)))
                    .Then(Op.put(key, value, PutOption.builder().withLeaseId(leaseId).build()))
                    .commit())
        .map(txn -> txn.isSucceeded() ? txn.getHeader().getRevision() : 0L);
  }

  /**
   * Reads a live instance.
   *
   * @param url the canonical url
   * @return the instance with its lease, or empty
   */
  public Mono<Optional<Held>> instance(String url) {
    return Rx.call(() -> client.getKVClient().get(layout.instance(url)))
        .map(
            got ->
                got.getKvs().stream()
                    .findFirst()
                    .map(kv -> new Held(instanceOf(kv), kv.getLease())));
  }

  /**
   * A live instance and the lease (session) that holds it.
   *
   * @param instance the instance
   * @param leaseId its session's lease
   */
  public record Held(Instance instance, long leaseId) {}

  /**
   * Removes an instance if its key is still at {@code modRevision}, writing {@code reason} beside
   * the removal (attached to {@code leaseId}, the instance's lease) so that watchers read it.
   *
   * @param url the canonical url
   * @param modRevision the instance key's mod revision as last read
   * @param leaseId the instance's lease
   * @param reason the removal reason
   * @param guards further compares that must hold (for example the session record's owner)
   * @return the revision of the removal, or 0 if a compare failed
   */
  public Mono<Long> remove(
      String url, long modRevision, long leaseId, String reason, Cmp... guards) {
    ByteSequence key = layout.instance(url);
    return Rx.call(
            () ->
                client
                    .getKVClient()
                    .txn()
                    .If(
                        with(
                            new Cmp(key, Cmp.Op.EQUAL, CmpTarget.modRevision(modRevision)), guards))
                    .Then(
                        Op.delete(key, DeleteOption.DEFAULT),
                        Op.put(
                            layout.reason(url),
                            EtcdLayout.bytes(reason),
                            PutOption.builder().withLeaseId(leaseId).build()))
                    .commit())
        .map(txn -> txn.isSucceeded() ? txn.getHeader().getRevision() : 0L);
  }

  private static Cmp[] with(Cmp first, Cmp... more) {
    Cmp[] all = new Cmp[more.length + 1];
    all[0] = first;
    System.arraycopy(more, 0, all, 1, more.length);
    return all;
  }

  /**
   * Enters {@code url}'s service election under the session's lease; campaigning again keeps the
   * place (the key and its create revision stay).
   *
   * @param url the canonical url of a live instance of the session
   * @param leaseId the session's lease
   * @param instanceModRevision the instance key's mod revision as last read: the campaign is made
   *     only if the instance is unchanged (still the session's)
   * @return the revision of the new campaign key; negative (minus the existing key's create
   *     revision) if it was campaigning already; 0 if the instance changed
   */
  public Mono<Long> campaign(String url, long leaseId, long instanceModRevision) {
    ByteSequence key = layout.campaign(url);
    return Rx.call(
            () ->
                client
                    .getKVClient()
                    .txn()
                    .If(
                        new Cmp(key, Cmp.Op.EQUAL, CmpTarget.createRevision(0)),
                        new Cmp(
                            layout.instance(url),
                            Cmp.Op.EQUAL,
                            CmpTarget.modRevision(instanceModRevision)))
                    .Then(
                        Op.put(
                            key,
                            EtcdLayout.bytes(url),
                            PutOption.builder().withLeaseId(leaseId).build()))
                    .Else(Op.get(key, GetOption.DEFAULT))
                    .commit())
        .map(
            txn ->
                txn.isSucceeded()
                    ? txn.getHeader().getRevision()
                    : txn.getGetResponses().get(0).getKvs().stream()
                        .findFirst()
                        .map(kv -> -kv.getCreateRevision())
                        .orElse(0L));
  }

  /**
   * Whether {@code url} campaigns now: a read, so that leaving an election it is not in costs no
   * write.
   *
   * @param url the canonical url
   * @return true if its campaign key exists
   */
  public Mono<Boolean> campaigning(String url) {
    return Rx.call(
            () ->
                client
                    .getKVClient()
                    .get(layout.campaign(url), GetOption.builder().withCountOnly(true).build()))
        .map(got -> got.getCount() > 0);
  }

  /**
   * Leaves {@code url}'s election if it campaigns (a read first, a write only then).
   *
   * @param url the canonical url
   * @param guards compares that must hold
   * @return the revision of the change (0 if it was not campaigning or a guard failed)
   */
  public Mono<Long> resignIfCampaigning(String url, Cmp... guards) {
    return campaigning(url).flatMap(yes -> yes ? resign(url, guards) : Mono.just(0L));
  }

  /**
   * Leaves {@code url}'s election.
   *
   * @param url the canonical url
   * @param guards compares that must hold (for example the session record's owner)
   * @return the revision of the change (0 if it was not campaigning or a guard failed)
   */
  public Mono<Long> resign(String url, Cmp... guards) {
    return Rx.call(
            () ->
                client
                    .getKVClient()
                    .txn()
                    .If(guards)
                    .Then(Op.delete(layout.campaign(url), DeleteOption.DEFAULT))
                    .commit())
        .map(
            txn ->
                txn.isSucceeded() && txn.getDeleteResponses().get(0).getDeleted() > 0
                    ? txn.getHeader().getRevision()
                    : 0L);
  }

  /**
   * The leader of a service's election now: the campaign with the lowest create revision.
   *
   * @param serviceName the service
   * @return the leader's url and term, or empty when nobody campaigns
   */
  public Mono<Optional<Leadership>> leader(String serviceName) {
    return Rx.call(
            () ->
                client
                    .getKVClient()
                    .get(
                        layout.campaigns(serviceName),
                        GetOption.builder()
                            .isPrefix(true)
                            .withSortField(GetOption.SortTarget.CREATE)
                            .withSortOrder(GetOption.SortOrder.ASCEND)
                            .withLimit(1)
                            .build()))
        .map(
            got ->
                got.getKvs().stream()
                    .findFirst()
                    .map(kv -> new Leadership(serviceName, urlOf(kv), kv.getCreateRevision())));
  }

  /**
   * A leader.
   *
   * @param serviceName the service
   * @param url the leading instance
   * @param term the campaign key's create revision
   */
  public record Leadership(String serviceName, String url, long term) {}

  /**
   * The instance an etcd key-value under {@code svc/SERVICE/i/} holds, with etcd's revisions.
   *
   * @param kv the key-value
   * @return the instance
   */
  public static Instance instanceOf(KeyValue kv) {
    try {
      return Instance.parseFrom(kv.getValue().getBytes()).toBuilder()
          .setCreateRevision(kv.getCreateRevision())
          .setModRevision(kv.getModRevision())
          .build();
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new IllegalStateException("not an Instance at " + kv.getKey(), e);
    }
  }

  private static String urlOf(KeyValue campaign) {
    return campaign.getValue().toString(java.nio.charset.StandardCharsets.UTF_8);
  }
}

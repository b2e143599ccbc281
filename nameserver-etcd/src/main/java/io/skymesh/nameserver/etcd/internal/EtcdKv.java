package io.skymesh.nameserver.etcd.internal;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import io.skymesh.proto.KvEntry;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import reactor.core.publisher.Mono;

/**
 * KV config in etcd under {@code kv/}: revisions are etcd's, and a compare-and-set is a transaction
 * on the key's mod revision (etcd compares a missing key's mod revision as 0, which is exactly
 * "only if absent"). Lazy and non-blocking; signals arrive on jetcd's threads.
 */
public final class EtcdKv {

  private final Client client;
  private final EtcdLayout layout;

  /**
   * KV of {@code client} laid out by {@code layout}.
   *
   * @param client the etcd client
   * @param layout the key layout
   */
  public EtcdKv(Client client, EtcdLayout layout) {
    this.client = client;
    this.layout = layout;
  }

  /**
   * The outcome of a write.
   *
   * @param written whether it happened (false: the compare failed)
   * @param revision the revision of the write, or the current revision if it did not happen
   * @param modRevision the key's mod revision now (0: absent)
   * @param count keys deleted, for a delete
   */
  public record Written(boolean written, long revision, long modRevision, long count) {}

  /**
   * Reads one key.
   *
   * @param key the KV key
   * @return the entry, or empty if absent
   */
  public Mono<Optional<KvEntry>> get(String key) {
    return Rx.call(() -> client.getKVClient().get(layout.kv(key)))
        .map(got -> got.getKvs().stream().findFirst().map(this::entryOf));
  }

  /**
   * Every key under {@code prefix}, in key order, and the revision it was read at.
   *
   * @param prefix the KV prefix
   * @return the entries
   */
  public Mono<List<KvEntry>> list(String prefix) {
    return Rx.call(
            () ->
                client
                    .getKVClient()
                    .get(layout.kv(prefix), GetOption.builder().isPrefix(true).build()))
        .map(got -> got.getKvs().stream().map(this::entryOf).toList());
  }

  /**
   * Writes a key, if {@code expectedModRevision} is empty or equals the key's mod revision.
   *
   * @param key the KV key
   * @param value the value
   * @param expectedModRevision the compare, if any (0: only if absent)
   * @return the outcome
   */
  public Mono<Written> put(String key, byte[] value, OptionalLong expectedModRevision) {
    ByteSequence etcdKey = layout.kv(key);
    Op put = Op.put(etcdKey, ByteSequence.from(value), PutOption.DEFAULT);
    if (expectedModRevision.isEmpty()) {
      return Rx.call(() -> client.getKVClient().txn().Then(put).commit())
          .map(txn -> new Written(true, revisionOf(txn), revisionOf(txn), 0));
    }
    return Rx.call(
            () ->
                client
                    .getKVClient()
                    .txn()
                    .If(
                        new Cmp(
                            etcdKey,
                            Cmp.Op.EQUAL,
                            CmpTarget.modRevision(expectedModRevision.getAsLong())))
                    .Then(put)
                    .Else(Op.get(etcdKey, GetOption.DEFAULT))
                    .commit())
        .map(
            txn ->
                txn.isSucceeded()
                    ? new Written(true, revisionOf(txn), revisionOf(txn), 0)
                    : new Written(false, revisionOf(txn), currentModRevision(txn), 0));
  }

  /**
   * Deletes a key (or every key under a prefix), if {@code expectedModRevision} is empty or equals
   * the key's mod revision.
   *
   * @param key the KV key or prefix
   * @param prefix whether {@code key} is a prefix
   * @param expectedModRevision the compare of one key, if any
   * @return the outcome, with the number of keys deleted
   */
  public Mono<Written> delete(String key, boolean prefix, OptionalLong expectedModRevision) {
    ByteSequence etcdKey = layout.kv(key);
    Op delete = Op.delete(etcdKey, DeleteOption.builder().isPrefix(prefix).build());
    return Rx.call(
            () -> {
              var txn = client.getKVClient().txn();
              if (expectedModRevision.isPresent()) {
                txn.If(
                        new Cmp(
                            etcdKey,
                            Cmp.Op.EQUAL,
                            CmpTarget.modRevision(expectedModRevision.getAsLong())))
                    .Then(delete)
                    .Else(Op.get(etcdKey, GetOption.DEFAULT));
              } else {
                txn.Then(delete);
              }
              return txn.commit();
            })
        .map(
            response -> {
              if (!response.isSucceeded()) {
                return new Written(false, revisionOf(response), currentModRevision(response), 0);
              }
              long deleted = response.getDeleteResponses().get(0).getDeleted();
              return new Written(deleted > 0, revisionOf(response), 0, deleted);
            });
  }

  /**
   * The KV entry an etcd key-value under {@code kv/} stands for.
   *
   * @param kv the etcd key-value
   * @return the entry
   */
  public KvEntry entryOf(KeyValue kv) {
    return KvEntry.newBuilder()
        .setKey(layout.kvKeyOf(kv.getKey()))
        .setValue(com.google.protobuf.ByteString.copyFrom(kv.getValue().getBytes()))
        .setCreateRevision(kv.getCreateRevision())
        .setModRevision(kv.getModRevision())
        .build();
  }

  private static long revisionOf(TxnResponse txn) {
    return txn.getHeader().getRevision();
  }

  private static long currentModRevision(TxnResponse txn) {
    return txn.getGetResponses().isEmpty() || txn.getGetResponses().get(0).getKvs().isEmpty()
        ? 0
        : txn.getGetResponses().get(0).getKvs().get(0).getModRevision();
  }
}

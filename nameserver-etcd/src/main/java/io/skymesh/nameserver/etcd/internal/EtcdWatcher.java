package io.skymesh.nameserver.etcd.internal;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.common.exception.CompactedException;
import io.etcd.jetcd.common.exception.ErrorCode;
import io.etcd.jetcd.common.exception.EtcdException;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.WatchOption;
import io.etcd.jetcd.watch.WatchEvent;
import io.etcd.jetcd.watch.WatchResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.FluxSink;

/**
 * An etcd prefix watch as a {@link Flux} of {@link Batch}es: a {@link Snapshot} of every key under
 * the prefix at a revision, then the {@link Changes} of every later revision, in order, grouped by
 * revision. When etcd has compacted the revision the watch needs (at the start, or on resuming
 * after a lost connection), a fresh snapshot marked {@code resync} comes instead: never a gap.
 *
 * <p>Signals arrive on jetcd's threads, serialized; the flux buffers what its subscriber has not
 * requested yet, so the subscriber must bound itself (the name server resyncs a slow watcher).
 */
public final class EtcdWatcher {

  private static final Logger log = LoggerFactory.getLogger(EtcdWatcher.class);

  private final Client client;

  /**
   * Watches through {@code client}.
   *
   * @param client the etcd client
   */
  public EtcdWatcher(Client client) {
    this.client = client;
  }

  /** What a watch emits. */
  public sealed interface Batch permits Snapshot, Changes {
    /** The etcd revision of the snapshot or of the changes. */
    long revision();
  }

  /**
   * Every key under the prefix at {@code revision}.
   *
   * @param revision the etcd revision
   * @param kvs the keys, in key order
   * @param kind why it was taken
   */
  public record Snapshot(long revision, List<KeyValue> kvs, Kind kind) implements Batch {}

  /** Why a snapshot was taken. */
  public enum Kind {
    /** The start of a watch from revision 0: the watcher's first view. */
    INITIAL,
    /**
     * Replaces changes the watcher cannot be given: etcd compacted them, or the revision asked for
     * is in the future.
     */
    RESYNC,
    /**
     * The state at the revision a watch resumes from, for the translator's own view only: the
     * watcher has it already and gets the changes after it next.
     */
    BASE
  }

  /**
   * The changes of one etcd revision (one transaction, or one lease's expiry).
   *
   * @param revision the etcd revision
   * @param events the events, each with its previous value
   */
  public record Changes(long revision, List<WatchEvent> events) implements Batch {}

  /**
   * Watches every key under {@code prefix}.
   *
   * @param prefix the etcd key prefix
   * @param fromRevision 0: start with a snapshot of now; otherwise every change after this revision
   *     (or a resync snapshot if etcd no longer has them)
   * @return the batches; lazy, one etcd watch per subscription
   */
  public Flux<Batch> watch(ByteSequence prefix, long fromRevision) {
    return Flux.create(
        sink -> new Run(prefix, sink).start(fromRevision), FluxSink.OverflowStrategy.BUFFER);
  }

  private static boolean outOfRange(Throwable error) {
    for (Throwable t = error; t != null; t = t.getCause()) {
      if (t instanceof EtcdException etcd && etcd.getErrorCode() == ErrorCode.OUT_OF_RANGE) {
        return true;
      }
    }
    return io.grpc.Status.fromThrowable(error).getCode() == io.grpc.Status.Code.OUT_OF_RANGE;
  }

  /** One subscription's watch; callbacks are serialized by jetcd and by the snapshot's chain. */
  private final class Run implements Watch.Listener {
    private final ByteSequence prefix;
    private final FluxSink<Batch> sink;
    private volatile long last;
    private volatile boolean compacted;
    private volatile boolean disposed;
    private volatile Watch.Watcher watcher;

    Run(ByteSequence prefix, FluxSink<Batch> sink) {
      this.prefix = prefix;
      this.sink = sink;
      sink.onDispose(
          () -> {
            disposed = true;
            Watch.Watcher w = watcher;
            if (w != null) {
              w.close();
            }
          });
    }

    void start(long fromRevision) {
      snapshot(fromRevision <= 0 ? Kind.INITIAL : Kind.BASE, fromRevision);
    }

    private void snapshot(Kind kind, long atRevision) {
      GetOption.Builder option = GetOption.builder().isPrefix(true);
      if (kind == Kind.BASE) {
        option.withRevision(atRevision);
      }
      client
          .getKVClient()
          .get(prefix, option.build())
          .whenComplete(
              (got, error) -> {
                if (disposed) {
                  return;
                }
                if (error != null) {
                  Throwable cause = error instanceof CompletionException c ? c.getCause() : error;
                  if (kind == Kind.BASE && outOfRange(cause)) {
                    // Compacted, or a revision from the future: the watcher needs a fresh view.
                    snapshot(Kind.RESYNC, 0);
                  } else {
                    sink.error(cause);
                  }
                  return;
                }
                long revision = kind == Kind.BASE ? atRevision : got.getHeader().getRevision();
                last = revision;
                sink.next(new Snapshot(revision, List.copyOf(got.getKvs()), kind));
                watchAfter(revision);
              });
    }

    private void watchAfter(long revision) {
      if (disposed) {
        return;
      }
      compacted = false;
      watcher =
          client
              .getWatchClient()
              .watch(
                  prefix,
                  WatchOption.builder()
                      .isPrefix(true)
                      .withPrevKV(true)
                      .withRevision(revision + 1)
                      .build(),
                  this);
      if (disposed) {
        watcher.close();
      }
    }

    @Override
    public void onNext(WatchResponse response) {
      List<WatchEvent> events = response.getEvents();
      int i = 0;
      while (i < events.size()) {
        long revision = events.get(i).getKeyValue().getModRevision();
        List<WatchEvent> same = new ArrayList<>();
        while (i < events.size() && events.get(i).getKeyValue().getModRevision() == revision) {
          same.add(events.get(i++));
        }
        if (revision > last) {
          last = revision;
          sink.next(new Changes(revision, List.copyOf(same)));
        }
      }
    }

    @Override
    public void onError(Throwable error) {
      if (error instanceof CompactedException) {
        // jetcd closes the watcher next (onCompleted): resync from a snapshot then.
        compacted = true;
      } else {
        // jetcd resumes the watch from the revision after its last event by itself.
        log.info("watch of {}: {} (resuming)", prefix, error.toString());
      }
    }

    @Override
    public void onCompleted() {
      if (disposed) {
        return;
      }
      if (compacted) {
        log.info("watch of {}: revision {} compacted; resyncing from a snapshot", prefix, last);
        snapshot(Kind.RESYNC, 0);
      } else {
        sink.error(new IllegalStateException("etcd ended the watch of " + prefix));
      }
    }
  }
}

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
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;
import reactor.core.Disposables;
import reactor.core.publisher.Flux;
import reactor.core.publisher.FluxSink;
import reactor.core.scheduler.Schedulers;

/**
 * An etcd prefix watch as a {@link Flux} of {@link Batch}es: a {@link Snapshot} of every key under
 * the prefix at a revision, then the {@link Changes} of every later revision, in order, grouped by
 * revision. When etcd has compacted the revision the watch needs (at the start, or on resuming
 * after a lost connection), a fresh snapshot marked {@code resync} comes instead: never a gap. A
 * watch that fails (a member lost, a stream reset) is reopened from the revision after the last one
 * delivered, after a backoff of 50 ms doubling to 2 s.
 *
 * <p>Signals arrive on jetcd's threads, serialized; the flux buffers what its subscriber has not
 * requested yet, so the subscriber must bound itself (the name server resyncs a slow watcher).
 */
public final class EtcdWatcher {

  private static final Logger log = LoggerFactory.getLogger(EtcdWatcher.class);

  private static final long MIN_BACKOFF_MILLIS = 50;
  private static final long MAX_BACKOFF_MILLIS = 2_000;

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
    return hasCode(error, ErrorCode.OUT_OF_RANGE, io.grpc.Status.Code.OUT_OF_RANGE);
  }

  /** Whether a failed read is worth retrying: etcd or the connection to it is briefly away. */
  private static boolean retryable(Throwable error) {
    return hasCode(error, ErrorCode.UNAVAILABLE, io.grpc.Status.Code.UNAVAILABLE)
        || hasCode(error, ErrorCode.DEADLINE_EXCEEDED, io.grpc.Status.Code.DEADLINE_EXCEEDED);
  }

  /** Whether jetcd's exception (anywhere in the causes) or the gRPC status carries this code. */
  private static boolean hasCode(
      Throwable error, ErrorCode etcdCode, io.grpc.Status.Code grpcCode) {
    for (Throwable t = error; t != null; t = t.getCause()) {
      if (t instanceof EtcdException etcd && etcd.getErrorCode() == etcdCode) {
        return true;
      }
    }
    return io.grpc.Status.fromThrowable(error).getCode() == grpcCode;
  }

  /**
   * One subscription's watch. Each etcd watch it opens is an {@link Attempt}; when an attempt fails
   * (a member lost, a stream reset), the run retires it and opens the next one itself, from the
   * revision after the last one it delivered. jetcd would resume by itself, but from a revision it
   * advances on the "created" answer's header, before the events up to that revision have arrived:
   * a second failure in between skipped them (seen when an etcd member restarted).
   */
  private final class Run {
    private final ByteSequence prefix;
    private final FluxSink<Batch> sink;

    /** The revision of the last batch delivered; callbacks that write it run one at a time. */
    private volatile long last;

    private volatile boolean disposed;
    private volatile Attempt current;
    private volatile Disposable retry = Disposables.disposed();

    /** Failures in a row without an event delivered between them: the backoff's exponent. */
    private volatile int failures;

    Run(ByteSequence prefix, FluxSink<Batch> sink) {
      this.prefix = prefix;
      this.sink = sink;
      sink.onDispose(
          () -> {
            disposed = true;
            retry.dispose();
            Attempt attempt = current;
            if (attempt != null) {
              attempt.retire();
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
                  } else if (retryable(cause)) {
                    later(() -> snapshot(kind, atRevision), "snapshot", cause);
                  } else {
                    sink.error(cause);
                  }
                  return;
                }
                long revision = kind == Kind.BASE ? atRevision : got.getHeader().getRevision();
                last = revision;
                failures = 0;
                sink.next(new Snapshot(revision, List.copyOf(got.getKvs()), kind));
                watchAfter(revision);
              });
    }

    private void watchAfter(long revision) {
      if (disposed) {
        return;
      }
      Attempt attempt = new Attempt();
      current = attempt;
      attempt.open(revision);
      if (disposed) {
        attempt.retire();
      }
    }

    /** Runs {@code next} after a backoff that doubles with each failure in a row, up to 2 s. */
    private void later(Runnable next, String what, Throwable cause) {
      long delayMillis = Math.min(MAX_BACKOFF_MILLIS, MIN_BACKOFF_MILLIS << Math.min(failures, 8));
      failures++;
      log.info(
          "watch of {}: {} failed ({}); retrying from revision {} in {} ms",
          prefix,
          what,
          cause.toString(),
          last + 1,
          delayMillis);
      retry =
          Schedulers.parallel()
              .schedule(
                  () -> {
                    if (!disposed) {
                      next.run();
                    }
                  },
                  delayMillis,
                  TimeUnit.MILLISECONDS);
    }

    /** One etcd watch; once retired, it ignores whatever jetcd still tells it. */
    private final class Attempt implements Watch.Listener {
      private volatile boolean retired;
      private volatile boolean compacted;
      private volatile Watch.Watcher watcher;

      void open(long afterRevision) {
        watcher =
            client
                .getWatchClient()
                .watch(
                    prefix,
                    WatchOption.builder()
                        .isPrefix(true)
                        .withPrevKV(true)
                        .withRevision(afterRevision + 1)
                        .build(),
                    this);
        if (retired) {
          watcher.close();
        }
      }

      /** Stops the etcd watch; jetcd's {@code onCompleted} that follows is ignored. */
      void retire() {
        retired = true;
        Watch.Watcher w = watcher;
        if (w != null) {
          w.close();
        }
      }

      @Override
      public void onNext(WatchResponse response) {
        if (retired) {
          return;
        }
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
            failures = 0;
            sink.next(new Changes(revision, List.copyOf(same)));
          }
        }
      }

      @Override
      public void onError(Throwable error) {
        if (retired) {
          return;
        }
        if (error instanceof CompactedException) {
          // jetcd closes the watcher next (onCompleted): resync from a snapshot then.
          compacted = true;
          return;
        }
        // Called inside jetcd's error handling: retire now (nothing more is delivered from this
        // attempt), close its watcher and open the next one after the backoff.
        retired = true;
        later(
            () -> {
              Watch.Watcher w = watcher;
              if (w != null) {
                w.close();
              }
              watchAfter(last);
            },
            "the watch",
            error);
      }

      @Override
      public void onCompleted() {
        if (retired || disposed) {
          return;
        }
        retired = true;
        if (compacted) {
          log.info("watch of {}: revision {} compacted; resyncing from a snapshot", prefix, last);
          snapshot(Kind.RESYNC, 0);
        } else {
          sink.error(new IllegalStateException("etcd ended the watch of " + prefix));
        }
      }
    }
  }
}

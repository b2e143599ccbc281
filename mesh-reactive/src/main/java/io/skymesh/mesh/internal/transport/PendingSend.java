package io.skymesh.mesh.internal.transport;

import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;

/**
 * One send between subscription and completion: the subscription handed to the caller, an entry of
 * the connection's outbound queue, and a link in the write batch that carries its bytes.
 *
 * <p>States: {@code QUEUED} until the event loop takes it for writing ({@code WRITING}), or until
 * it is cancelled or failed ({@code DONE}). A cancel while {@code WRITING} only silences the
 * completion. Exactly one transition reaches {@code DONE}, and it releases the connection's pending
 * count.
 */
final class PendingSend implements Subscription {

  private static final int QUEUED = 0;
  private static final int WRITING = 1;
  private static final int WRITING_CANCELLED = 2;
  private static final int DONE = 3;

  private static final AtomicIntegerFieldUpdater<PendingSend> STATE =
      AtomicIntegerFieldUpdater.newUpdater(PendingSend.class, "state");

  /** The frame to send; {@code null} for the marker that closes the connection after the rest. */
  final OutboundFrame frame;

  /** Who waits for the outcome; {@code null} for the transport's own frames. */
  private final CoreSubscriber<? super Void> actual;

  private final PeerChannel owner;

  /** The next send in the same write batch; event loop only. */
  PendingSend nextInBatch;

  private volatile int state;

  PendingSend(PeerChannel owner, OutboundFrame frame, CoreSubscriber<? super Void> actual) {
    this.owner = owner;
    this.frame = frame;
    this.actual = actual;
  }

  @Override
  public void request(long n) {
    // A Mono<Void> emits no values: demand means nothing.
  }

  @Override
  public void cancel() {
    for (; ; ) {
      int s = state;
      if (s == QUEUED) {
        if (STATE.compareAndSet(this, QUEUED, DONE)) {
          owner.sendDone();
          return;
        }
      } else if (s == WRITING) {
        if (STATE.compareAndSet(this, WRITING, WRITING_CANCELLED)) {
          return;
        }
      } else {
        return;
      }
    }
  }

  /** Takes the send for writing; false if it was cancelled or failed meanwhile. */
  boolean start() {
    return STATE.compareAndSet(this, QUEUED, WRITING);
  }

  /** Fails a send that was not taken for writing; does nothing if it is already done. */
  void fail(Throwable error) {
    if (STATE.compareAndSet(this, QUEUED, DONE)) {
      owner.sendDone();
      signal(error);
    }
  }

  /** Ends a send taken for writing: written when {@code error} is null, failed otherwise. */
  void written(Throwable error) {
    int previous = STATE.getAndSet(this, DONE);
    if (previous == WRITING || previous == WRITING_CANCELLED) {
      owner.sendDone();
      if (previous == WRITING) {
        signal(error);
      }
    }
  }

  private void signal(Throwable error) {
    CoreSubscriber<? super Void> a = actual;
    if (a == null) {
      if (error != null) {
        owner.internalSendFailed(frame, error);
      }
    } else if (error == null) {
      a.onComplete();
    } else {
      a.onError(error);
    }
  }
}

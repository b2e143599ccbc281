package io.skymesh.mesh.internal.transport;

import io.netty.channel.EventLoop;
import java.util.concurrent.RejectedExecutionException;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Mono;
import reactor.util.context.Context;

/**
 * Wraps a dispatcher's {@code Mono} so that its end is signalled on the connection's event loop,
 * with an error logged and turned into completion. The inbound loop continues where this signals,
 * so this keeps every dispatch of a connection on its event loop, and one failed frame from
 * stopping the connection.
 */
final class DispatchCompletion extends Mono<Void> {

  private final Mono<Void> source;
  private final PeerChannel owner;
  private final Object frame;

  DispatchCompletion(Mono<Void> source, PeerChannel owner, Object frame) {
    this.source = source;
    this.owner = owner;
    this.frame = frame;
  }

  @Override
  public void subscribe(CoreSubscriber<? super Void> actual) {
    source.subscribe(new Inner(actual, owner, frame));
  }

  private static final class Inner implements CoreSubscriber<Void>, Subscription, Runnable {

    private final CoreSubscriber<? super Void> actual;
    private final PeerChannel owner;
    private final Object frame;
    private final EventLoop loop;
    private Subscription upstream;

    Inner(CoreSubscriber<? super Void> actual, PeerChannel owner, Object frame) {
      this.actual = actual;
      this.owner = owner;
      this.frame = frame;
      this.loop = owner.eventLoop();
    }

    @Override
    public Context currentContext() {
      return actual.currentContext();
    }

    @Override
    public void onSubscribe(Subscription s) {
      upstream = s;
      actual.onSubscribe(this);
    }

    @Override
    public void onNext(Void unused) {
      // Mono<Void> carries no value.
    }

    @Override
    public void onError(Throwable t) {
      owner.dispatchFailed(frame, t);
      complete();
    }

    @Override
    public void onComplete() {
      complete();
    }

    private void complete() {
      if (loop.inEventLoop()) {
        actual.onComplete();
        return;
      }
      try {
        loop.execute(this);
      } catch (RejectedExecutionException e) {
        // The event loop is gone, and the connection with it: nothing is left to order against.
        actual.onComplete();
      }
    }

    @Override
    public void run() {
      actual.onComplete();
    }

    @Override
    public void request(long n) {
      upstream.request(n);
    }

    @Override
    public void cancel() {
      upstream.cancel();
    }
  }
}

package io.skymesh.benchmarks;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.core.publisher.MonoSink;

/**
 * The benchmarks' driver of concurrent calls: a number of loops, each starting its next call when
 * its last one has ended, the same for every system compared. It does per call what {@code
 * Flux.range(0, count).flatMap(i -> call, concurrency)} does, without its cost: that operator scans
 * its inner subscribers on every completion, which at 256 in flight took over a third of the
 * calling event loop in the profiles (benchmarks/README.md, "A cheaper driver"), the same fixed
 * cost on every side, which pulled every ratio towards 1.
 *
 * <p>Starting a call happens on the thread that ended the previous one (an event loop, mostly);
 * starts are trampolined, so a call that ends inside its own subscription does not recurse.
 */
final class CallLoops {

  private final Supplier<? extends Mono<?>> call;
  private final long count;
  private final MonoSink<Long> done;
  private final AtomicInteger wip = new AtomicInteger();
  private final AtomicInteger toStart = new AtomicInteger();
  private final AtomicLong ended = new AtomicLong();
  private volatile boolean stopped;

  /** Only the trampoline (whoever holds {@code wip}) touches it. */
  private long started;

  private CallLoops(Supplier<? extends Mono<?>> call, long count, MonoSink<Long> done) {
    this.call = call;
    this.count = count;
    this.done = done;
  }

  /**
   * Makes {@code count} calls, at most {@code concurrency} outstanding.
   *
   * @return completes with {@code count} when the last has ended, or fails with the first failure
   */
  static Mono<Long> run(long count, int concurrency, Supplier<? extends Mono<?>> call) {
    return Mono.create(
        sink -> {
          CallLoops loops = new CallLoops(call, count, sink);
          sink.onDispose(loops::stop);
          loops.start((int) Math.min(concurrency, count));
        });
  }

  /**
   * Keeps {@code concurrency} calls outstanding until disposed; a failure stops every loop and goes
   * to {@code onError}.
   */
  static Disposable forever(
      int concurrency, Supplier<? extends Mono<?>> call, Consumer<Throwable> onError) {
    return run(Long.MAX_VALUE, concurrency, call).subscribe(null, onError);
  }

  private void stop() {
    stopped = true;
  }

  private void start(int calls) {
    toStart.addAndGet(calls);
    if (wip.getAndIncrement() != 0) {
      return;
    }
    do {
      while (toStart.get() > 0) {
        toStart.decrementAndGet();
        if (stopped || started >= count) {
          continue;
        }
        started++;
        call.get().subscribe(new Loop());
      }
    } while (wip.decrementAndGet() != 0);
  }

  private void ended() {
    long total = ended.incrementAndGet();
    if (total == count) {
      done.success(total);
    } else {
      start(1);
    }
  }

  /** The subscriber of one call. */
  private final class Loop implements CoreSubscriber<Object> {

    @Override
    public void onSubscribe(Subscription subscription) {
      subscription.request(Long.MAX_VALUE);
    }

    @Override
    public void onNext(Object value) {}

    @Override
    public void onError(Throwable error) {
      stopped = true;
      done.error(error);
    }

    @Override
    public void onComplete() {
      ended();
    }
  }
}

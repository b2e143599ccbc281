package io.skymesh.nameserver.etcd;

import static org.assertj.core.api.Assertions.assertThat;

import io.skymesh.testkit.ThreadDumps;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;

/** Records a stream's signals for a test thread to take one by one, each with a deadline. */
final class Recorder<T> implements AutoCloseable {

  static final Duration DEADLINE = Duration.ofSeconds(20);

  private final LinkedBlockingQueue<Object> signals = new LinkedBlockingQueue<>();
  private final Disposable subscription;

  private Recorder(Flux<T> flux) {
    subscription = flux.subscribe(signals::add, signals::add);
  }

  static <T> Recorder<T> of(Flux<T> flux) {
    return new Recorder<>(flux);
  }

  /** The next value; fails on an error or if none comes in time. */
  @SuppressWarnings("unchecked")
  T next() {
    Object signal;
    try {
      signal = signals.poll(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
    if (signal == null) {
      throw new AssertionError("nothing within " + DEADLINE + "\n" + ThreadDumps.all());
    }
    if (signal instanceof Throwable error) {
      throw new AssertionError("the stream failed", error);
    }
    return (T) signal;
  }

  /** Takes values until one matches; returns every value taken, the match last. */
  List<T> until(Predicate<T> match) {
    List<T> taken = new ArrayList<>();
    while (true) {
      T value = next();
      taken.add(value);
      if (match.test(value)) {
        return taken;
      }
    }
  }

  /** Asserts nothing is pending now. */
  void assertEmpty() {
    assertThat(signals).isEmpty();
  }

  @Override
  public void close() {
    subscription.dispose();
  }
}

package io.skymesh.mesh.internal.rpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.skymesh.core.exceptions.MeshTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Schedulers;

/** A caller's deadline armed on a Netty event loop: kept by the loop, not by the wheel. */
class LoopDeadlinesTest {

  private static final Duration DEADLINE = Duration.ofSeconds(10);
  private static final long LONG = TimeUnit.SECONDS.toNanos(30);

  private EventLoopGroup group;
  private EventLoop loop;

  @BeforeEach
  void startLoop() {
    group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    loop = group.next();
  }

  @AfterEach
  void stopLoop() {
    group.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
  }

  private static MeshTimeoutException late() {
    return new MeshTimeoutException("late");
  }

  /** Runs {@code work} on the loop and returns its result (waiting here, on the test's thread). */
  private <T> T onLoop(Callable<T> work) throws Exception {
    return loop.submit(work).get(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
  }

  private int held() throws Exception {
    return onLoop(Deadlines::heldOnThisLoop);
  }

  @Test
  void aDeadlineArmedOnALoopFiresThereAndNeverEarly() throws Exception {
    long nanos = TimeUnit.MILLISECONDS.toNanos(30);
    AtomicInteger cancelled = new AtomicInteger();
    AtomicReference<Throwable> failed = new AtomicReference<>();
    AtomicReference<Thread> firedOn = new AtomicReference<>();
    long[] armedAtAndHeld =
        onLoop(
            () -> {
              long now = System.nanoTime();
              Deadlines.within(
                      Mono.<String>never().doOnCancel(cancelled::incrementAndGet),
                      nanos,
                      LoopDeadlinesTest::late)
                  .subscribe(
                      value -> {},
                      error -> {
                        firedOn.set(Thread.currentThread());
                        failed.set(error);
                      });
              return new long[] {now, Deadlines.heldOnThisLoop()};
            });
    long armedAt = armedAtAndHeld[0];
    assertThat(armedAtAndHeld[1]).isEqualTo(1);

    await().atMost(DEADLINE).until(() -> failed.get() != null);
    long firedAt = System.nanoTime();
    assertThat(failed.get()).isInstanceOf(MeshTimeoutException.class);
    assertThat(firedAt - armedAt).isGreaterThanOrEqualTo(nanos);
    assertThat(cancelled).hasValue(1);
    assertThat(onLoop(Thread::currentThread)).isSameAs(firedOn.get());
    assertThat(held()).isZero();
  }

  @Test
  void deadlinesOfOneLengthFireInTheOrderTheyWereArmed() throws Exception {
    int calls = 200;
    List<Integer> fired = new CopyOnWriteArrayList<>();
    onLoop(
        () -> {
          for (int i = 0; i < calls; i++) {
            int call = i;
            Deadlines.within(
                    Mono.<String>never(),
                    TimeUnit.MILLISECONDS.toNanos(20),
                    LoopDeadlinesTest::late)
                .subscribe(value -> {}, error -> fired.add(call));
          }
          return null;
        });

    await().atMost(DEADLINE).until(() -> fired.size() == calls);
    List<Integer> inOrder = new ArrayList<>();
    for (int i = 0; i < calls; i++) {
      inOrder.add(i);
    }
    assertThat(fired).isEqualTo(inOrder);
  }

  @Test
  void anEndOnTheLoopTakesTheDeadlineOutAtOnceAndAnEndElsewhereAtTheNextSweep() throws Exception {
    int calls = 1_000;
    List<Sinks.One<String>> sources = new ArrayList<>();
    for (int i = 0; i < calls; i++) {
      sources.add(Sinks.one());
    }
    AtomicInteger values = new AtomicInteger();
    AtomicInteger errors = new AtomicInteger();
    onLoop(
        () -> {
          for (Sinks.One<String> source : sources) {
            Deadlines.within(source.asMono(), LONG, LoopDeadlinesTest::late)
                .subscribe(value -> values.incrementAndGet(), error -> errors.incrementAndGet());
          }
          return null;
        });
    assertThat(held()).isEqualTo(calls);

    // Half answered on the loop: out of the loop's list before the task returns.
    int heldAfterLoopHalf =
        onLoop(
            () -> {
              for (Sinks.One<String> source : sources.subList(0, calls / 2)) {
                source.tryEmitValue("on the loop");
              }
              return Deadlines.heldOnThisLoop();
            });
    assertThat(heldAfterLoopHalf).isEqualTo(calls / 2);

    // Half answered here: queued for the loop, which takes them out within a sweep or two.
    for (Sinks.One<String> source : sources.subList(calls / 2, calls)) {
      source.tryEmitValue("elsewhere");
    }
    await().atMost(DEADLINE).until(() -> held() == 0);
    assertThat(values).hasValue(calls);
    assertThat(errors).hasValue(0);
  }

  @Test
  void aNinthLengthGoesToTheWheelAndStillFires() throws Exception {
    List<Sinks.One<String>> longOnes = new ArrayList<>();
    AtomicReference<Throwable> shortFailed = new AtomicReference<>();
    onLoop(
        () -> {
          for (int i = 0; i < 8; i++) {
            Sinks.One<String> source = Sinks.one();
            longOnes.add(source);
            Deadlines.within(source.asMono(), LONG + i, LoopDeadlinesTest::late).subscribe();
          }
          Deadlines.within(
                  Mono.<String>never(), TimeUnit.MILLISECONDS.toNanos(20), LoopDeadlinesTest::late)
              .subscribe(value -> {}, shortFailed::set);
          return null;
        });
    assertThat(held()).isEqualTo(8);

    await().atMost(DEADLINE).until(() -> shortFailed.get() != null);
    assertThat(shortFailed.get()).isInstanceOf(MeshTimeoutException.class);
    assertThat(held()).isEqualTo(8);
    onLoop(
        () -> {
          longOnes.forEach(source -> source.tryEmitValue("done"));
          return null;
        });
    assertThat(held()).isZero();
  }

  @Test
  void aLoopThatShutsDownHandsWhatItHoldsToTheWheel() throws Exception {
    EventLoopGroup doomed = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    EventLoop doomedLoop = doomed.next();
    AtomicReference<Throwable> failed = new AtomicReference<>();
    Sinks.One<String> answered = Sinks.one();
    AtomicReference<String> answer = new AtomicReference<>();
    doomedLoop
        .submit(
            () -> {
              Deadlines.within(
                      Mono.<String>never(),
                      TimeUnit.MILLISECONDS.toNanos(300),
                      LoopDeadlinesTest::late)
                  .subscribe(value -> {}, failed::set);
              Deadlines.within(answered.asMono(), LONG, LoopDeadlinesTest::late)
                  .subscribe(answer::set, failed::set);
              return Deadlines.heldOnThisLoop();
            })
        .get(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);

    doomed.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();

    // The 300 ms deadline fires from the wheel; the 30 s one still lets its answer through.
    await().atMost(DEADLINE).until(() -> failed.get() != null);
    assertThat(failed.get()).isInstanceOf(MeshTimeoutException.class);
    answered.tryEmitValue("after the loop");
    assertThat(answer.get()).isEqualTo("after the loop");
  }

  @Test
  void aSourceFinishingAtTheDeadlineGivesExactlyOneOutcome() throws Exception {
    int calls = 2_000;
    OutcomeCounter outcomes = new OutcomeCounter();
    onLoop(
        () -> {
          for (int i = 0; i < calls; i++) {
            // The loop sweeps every 10 ms; the source answers, on another thread, about as late.
            Mono<Integer> source =
                Mono.just(i).delayElement(Duration.ofMillis(i % 40), Schedulers.parallel());
            Deadlines.within(source, TimeUnit.MILLISECONDS.toNanos(10), LoopDeadlinesTest::late)
                .subscribe(outcomes.subscriber());
          }
          return null;
        });

    await().atMost(DEADLINE).until(() -> outcomes.allEnded(calls));
    assertThat(outcomes.signals).hasValue(calls);
    assertThat(outcomes.otherErrors).hasValue(0);
    assertThat(outcomes.values.get()).isPositive();
    assertThat(outcomes.timeouts.get()).isPositive();
    await().atMost(DEADLINE).until(() -> held() == 0);
  }
}

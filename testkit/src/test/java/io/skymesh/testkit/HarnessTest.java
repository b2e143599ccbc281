package io.skymesh.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.testkit.engine.EngineTestKit;
import org.junit.platform.testkit.engine.Events;
import reactor.blockhound.BlockingOperationError;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import reactor.test.StepVerifier;

class HarnessTest {

  private static final Duration DEADLINE = Duration.ofSeconds(10);

  @Test
  void blockingCallOnReactorParallelThreadFails() {
    Mono<Boolean> blocking =
        Mono.fromCallable(() -> new CountDownLatch(1).await(10, TimeUnit.MILLISECONDS))
            .subscribeOn(Schedulers.parallel());

    StepVerifier.create(blocking).expectError(BlockingOperationError.class).verify(DEADLINE);
  }

  @Test
  void blockingCallOnNettyEventLoopFails() {
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    try {
      Mono<Boolean> blocking =
          Mono.fromCallable(() -> new CountDownLatch(1).await(10, TimeUnit.MILLISECONDS))
              .subscribeOn(Schedulers.fromExecutor(group.next()));

      StepVerifier.create(blocking).expectError(BlockingOperationError.class).verify(DEADLINE);
    } finally {
      group.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
    }
  }

  @Test
  void blockingCallOnBoundedElasticIsAllowed() {
    Mono<Boolean> blocking =
        Mono.fromCallable(() -> new CountDownLatch(1).await(1, TimeUnit.MILLISECONDS))
            .subscribeOn(Schedulers.boundedElastic());

    StepVerifier.create(blocking).expectNext(false).expectComplete().verify(DEADLINE);
  }

  @Test
  void leakedBufferIsReportedWithItsAccessRecords() {
    leakOneBuffer();

    List<String> leaks = new ArrayList<>();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () -> {
              leaks.addAll(LeakCheck.collectLeaks());
              return !leaks.isEmpty();
            });

    assertThat(leaks).hasSize(1);
    assertThat(leaks.get(0)).contains("LEAK: ByteBuf.release() was not called").contains("#1:");
  }

  @Test
  void releasedBufferIsNotReported() {
    ByteBuf buffer = ByteBufAllocator.DEFAULT.directBuffer(16);
    buffer.writeLong(42L);
    buffer.release();

    assertThat(LeakCheck.collectLeaks()).isEmpty();
  }

  @Test
  void testThatLeaksFailsThroughTheAutoDetectedExtension() {
    Events events =
        EngineTestKit.engine("junit-jupiter")
            .configurationParameter("junit.jupiter.extensions.autodetection.enabled", "true")
            .selectors(selectClass(LeakingTestCase.class))
            .execute()
            .testEvents();

    events.assertStatistics(stats -> stats.started(1).failed(1).succeeded(0));
    Throwable failure =
        events
            .failed()
            .list()
            .get(0)
            .getPayload(TestExecutionResult.class)
            .flatMap(TestExecutionResult::getThrowable)
            .orElseThrow();
    assertThat(failure).isInstanceOf(AssertionError.class).hasMessageContaining("leaked:");
  }

  @Test
  void propertyThatLeaksFailsThroughTheGlobalJqwikHook() {
    Events events =
        EngineTestKit.engine("jqwik")
            .selectors(selectClass(LeakingProperty.class))
            .execute()
            .testEvents();

    events.assertStatistics(stats -> stats.started(1).failed(1).succeeded(0));
  }

  private static void leakOneBuffer() {
    ByteBuf buffer = ByteBufAllocator.DEFAULT.directBuffer(16);
    buffer.writeLong(42L);
    buffer.readLong();
  }

  /** Run only through EngineTestKit above: surefire skips nested classes. */
  static class LeakingTestCase {
    @Test
    void leaks() {
      leakOneBuffer();
    }
  }

  /** Run only through EngineTestKit above: surefire skips nested classes. */
  static class LeakingProperty {
    @net.jqwik.api.Property(tries = 1)
    void leaks() {
      leakOneBuffer();
    }
  }
}

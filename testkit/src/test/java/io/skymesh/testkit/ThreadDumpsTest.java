package io.skymesh.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ThreadDumpsTest {

  @Test
  void theDumpNamesAWaitingThreadAndWhereItWaits() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    Thread waiter = new Thread(() -> awaitQuietly(release), "dump-test-waiter");
    waiter.start();
    try {
      await().atMost(Duration.ofSeconds(10)).until(() -> waiter.getState() == Thread.State.WAITING);

      String dump = ThreadDumps.all();

      assertThat(dump).contains("\"dump-test-waiter\" WAITING");
      assertThat(dump).contains("ThreadDumpsTest.awaitQuietly");
    } finally {
      release.countDown();
      waiter.join(TimeUnit.SECONDS.toMillis(10));
    }
  }

  private static void awaitQuietly(CountDownLatch latch) {
    try {
      latch.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}

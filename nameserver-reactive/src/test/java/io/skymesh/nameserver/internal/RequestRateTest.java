package io.skymesh.nameserver.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The request rate limit, on a clock the test moves. */
class RequestRateTest {

  private static final long SECOND = 1_000_000_000L;

  @Test
  void aSecondsWorthPassesAtOnceThenOneEveryPeriod() {
    RequestRate rate = new RequestRate(5);
    long now = 1_000 * SECOND;
    for (int i = 0; i < 5; i++) {
      assertThat(rate.tryAcquire(now)).as("request %d of the burst", i).isTrue();
    }
    assertThat(rate.tryAcquire(now)).isFalse();
    assertThat(rate.tryAcquire(now + SECOND / 5 - 1)).isFalse();
    assertThat(rate.tryAcquire(now + SECOND / 5)).isTrue();
    assertThat(rate.tryAcquire(now + SECOND / 5)).isFalse();
    // After a quiet second, a whole burst again, and no more.
    long later = now + 3 * SECOND;
    for (int i = 0; i < 5; i++) {
      assertThat(rate.tryAcquire(later)).isTrue();
    }
    assertThat(rate.tryAcquire(later)).isFalse();
  }

  @Test
  void zeroIsNoLimit() {
    RequestRate rate = new RequestRate(0);
    for (int i = 0; i < 10_000; i++) {
      assertThat(rate.tryAcquire(0)).isTrue();
    }
  }

  @Test
  void aRefusedRequestTakesNoRoom() {
    RequestRate rate = new RequestRate(1);
    assertThat(rate.tryAcquire(0)).isTrue();
    for (int i = 0; i < 100; i++) {
      assertThat(rate.tryAcquire(SECOND / 2)).isFalse();
    }
    assertThat(rate.tryAcquire(SECOND)).isTrue();
  }
}

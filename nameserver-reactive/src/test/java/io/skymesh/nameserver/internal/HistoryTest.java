package io.skymesh.nameserver.internal;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.skymesh.proto.KvEntry;
import io.skymesh.proto.KvWatchEvent;
import org.junit.jupiter.api.Test;

/** The history's two bounds: changes and bytes. */
class HistoryTest {

  private static History.Change put(long revision, int valueBytes) {
    KvEntry entry =
        KvEntry.newBuilder()
            .setKey("k")
            .setValue(ByteString.copyFrom(new byte[valueBytes]))
            .setModRevision(revision)
            .build();
    return History.Change.kv(
        "k", KvWatchEvent.newBuilder().setRevision(revision).setPut(entry).build());
  }

  @Test
  void largeChangesAreDroppedByBytesLongBeforeTheCountLimit() {
    long limit = 3L << 20;
    History history = new History(10_000, limit, 0);

    for (long revision = 1; revision <= 100; revision++) {
      history.add(put(revision, 1 << 20));
      assertThat(history.bytes()).isLessThanOrEqualTo(limit);
    }

    assertThat(history.size()).isEqualTo(2);
    assertThat(history.covers(98)).isTrue();
    assertThat(history.get(99).revision()).isEqualTo(99);
    assertThat(history.covers(97)).as("revision 98 was dropped").isFalse();
  }

  @Test
  void theCountLimitStillHoldsForSmallChanges() {
    History history = new History(4, 1L << 30, 0);

    for (long revision = 1; revision <= 10; revision++) {
      history.add(put(revision, 10));
    }

    assertThat(history.size()).isEqualTo(4);
    assertThat(history.covers(6)).isTrue();
    assertThat(history.covers(5)).isFalse();
  }

  @Test
  void aChangeOverTheBoundIsKeptAloneAsTheNewest() {
    History history = new History(100, 1024, 0);
    history.add(put(1, 10));

    history.add(put(2, 4096));

    assertThat(history.size()).isEqualTo(1);
    assertThat(history.covers(1)).isTrue();
    assertThat(history.covers(0)).isFalse();
  }
}

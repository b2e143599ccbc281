package io.skymesh.nameserver.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.skymesh.nameserver.FsyncPolicy;
import io.skymesh.proto.KvEntry;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The data directory's files: replay, snapshots that replace the log, ceilings. */
class DataLogTest {

  @TempDir Path dir;

  private DataLog.Opened open() {
    return DataLog.open(dir, FsyncPolicy.ALWAYS, 1_000_000, 0, 1000, 10);
  }

  private static KvEntry entry(String key, String value, long revision) {
    return KvEntry.newBuilder()
        .setKey(key)
        .setValue(ByteString.copyFromUtf8(value))
        .setCreateRevision(revision)
        .setModRevision(revision)
        .build();
  }

  @Test
  void aSnapshotReplacesTheLogAndLaterRecordsFollowIt() throws Exception {
    DataLog.Opened opened = open();
    assertThat(opened.recovered().revision()).isZero();
    assertThat(opened.revisionCeiling()).isEqualTo(1000);
    DataLog log = opened.log();
    AtomicLong written = new AtomicLong();
    log.start(written::set);
    log.putKv(entry("a", "1", 1));
    log.putKv(entry("b", "2", 2));
    log.deleteKv("a", 3);
    log.snapshot(new DataLog.Snapshot(3, 1000, 10, List.of(entry("b", "2", 2))));
    long last = log.putKv(entry("c", "3", 4));
    await().atMost(Duration.ofSeconds(10)).until(() -> written.get() == last);
    long logSize = Files.size(dir.resolve(DataLog.LOG));
    log.close();

    DataLog.Opened again = open();
    again.log().close();

    assertThat(again.recovered().kv()).containsOnlyKeys("b", "c");
    assertThat(again.recovered().cutBytes()).isZero();
    assertThat(again.recovered().revision()).as("the ceiling of the last run").isEqualTo(1000);
    assertThat(again.recovered().termFloor()).isEqualTo(10);
    assertThat(again.revisionCeiling()).isEqualTo(2000);
    assertThat(logSize).as("the log holds only what came after the snapshot").isLessThan(100);
  }

  @Test
  void aDamagedSnapshotStopsTheStartAndReleasesTheDirectory() throws Exception {
    DataLog.Opened opened = open();
    opened.log().start(seq -> {});
    opened.log().snapshot(new DataLog.Snapshot(0, 1000, 10, List.of(entry("a", "1", 1))));
    opened.log().close();
    byte[] bytes = Files.readAllBytes(dir.resolve(DataLog.SNAPSHOT));
    bytes[bytes.length - 2] ^= 0x5a;
    Files.write(dir.resolve(DataLog.SNAPSHOT), bytes);

    assertThatThrownBy(this::open)
        .isInstanceOf(UncheckedIOException.class)
        .hasMessageContaining("snapshot is damaged at byte");
    Files.delete(dir.resolve(DataLog.SNAPSHOT));
    DataLog.Opened again = open();
    again.log().close();

    assertThat(again.recovered().kv()).isEmpty();
  }

  @ParameterizedTest
  @EnumSource(FsyncPolicy.class)
  void everyPolicyWritesARecordBeforeReportingIt(FsyncPolicy policy) throws Exception {
    DataLog.Opened opened = DataLog.open(dir, policy, 10_000_000, 0, 1000, 10);
    DataLog log = opened.log();
    AtomicLong written = new AtomicLong();
    log.start(written::set);
    long seq = log.putKv(entry("a", "1", 1));
    await().atMost(Duration.ofSeconds(10)).until(() -> written.get() == seq);

    // Read while the log is still open, as a restart after kill -9 would.
    TreeMap<String, KvEntry> kv = new TreeMap<>();
    byte[] bytes = Files.readAllBytes(dir.resolve(DataLog.LOG));
    int end = DataLog.replay(bytes, kv, new long[3], Long.MIN_VALUE);
    log.close();

    assertThat(end).isEqualTo(bytes.length);
    assertThat(kv).containsOnlyKeys("a");
  }

  @Test
  void aDamagedRecordCutsTheLogThere() throws Exception {
    DataLog.Opened opened = open();
    DataLog log = opened.log();
    AtomicLong written = new AtomicLong();
    log.start(written::set);
    log.putKv(entry("a", "1", 1));
    long last = log.putKv(entry("b", "2", 2));
    await().atMost(Duration.ofSeconds(10)).until(() -> written.get() == last);
    log.close();
    byte[] bytes = Files.readAllBytes(dir.resolve(DataLog.LOG));
    bytes[bytes.length - 1] ^= 0x5a;
    Files.write(dir.resolve(DataLog.LOG), bytes);

    DataLog.Opened again = open();
    again.log().close();

    assertThat(again.recovered().kv()).containsOnlyKeys("a");
    assertThat(again.recovered().cutBytes()).isPositive();
  }
}

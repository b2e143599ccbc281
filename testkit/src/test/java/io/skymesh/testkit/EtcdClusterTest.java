package io.skymesh.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class EtcdClusterTest {

  @Test
  void oneMemberStartsHealthyAndIsGoneAfterClose() {
    ProcessHandle process;
    Path dataRoot;
    try (EtcdCluster etcd = EtcdCluster.start(1)) {
      assertThat(etcd.size()).isEqualTo(1);
      assertThat(etcd.endpoints()).matches("http://127\\.0\\.0\\.1:\\d+");
      assertThat(etcd.healthy(0)).isTrue();
      process = ProcessHandle.of(etcd.pid(0).orElseThrow()).orElseThrow();
      dataRoot = dataRootOf(process);
      assertThat(dataRoot).isDirectory();
    }
    assertThat(process.isAlive()).isFalse();
    assertThat(Files.exists(dataRoot)).isFalse();
  }

  @Test
  void aKilledMemberComesBackWithItsDataDirectory() {
    try (EtcdCluster etcd = EtcdCluster.start(1)) {
      long first = etcd.pid(0).orElseThrow();
      etcd.kill(0);
      assertThat(etcd.pid(0)).isEmpty();
      assertThat(etcd.healthy(0)).isFalse();
      assertThatThrownBy(() -> ProcessHandle.of(first).filter(ProcessHandle::isAlive).orElseThrow())
          .isInstanceOf(java.util.NoSuchElementException.class);
      etcd.startMember(0);
      assertThat(etcd.healthy(0)).isTrue();
      assertThat(etcd.pid(0)).isPresent().get().isNotEqualTo(first);
    }
  }

  @Test
  void threeMembersFormOneClusterThatSurvivesARestart() {
    try (EtcdCluster etcd = EtcdCluster.start(3)) {
      assertThat(etcd.endpoints().split(",")).hasSize(3).doesNotHaveDuplicates();
      etcd.restart(1);
      for (int i = 0; i < 3; i++) {
        assertThat(etcd.healthy(i)).as("member %s healthy", i).isTrue();
      }
      etcd.stop(2);
      assertThat(etcd.healthy(0)).as("two of three keep a quorum").isTrue();
    }
  }

  @Test
  void sizeIsOneOrThree() {
    assertThatThrownBy(() -> EtcdCluster.start(2))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("size: 2 (expected: 1 or 3)");
  }

  private static Path dataRootOf(ProcessHandle process) {
    String[] args = process.info().arguments().orElseThrow();
    for (int i = 0; i < args.length - 1; i++) {
      if (args[i].equals("--data-dir")) {
        return Path.of(args[i + 1]).getParent();
      }
    }
    throw new AssertionError("no --data-dir among " + String.join(" ", args));
  }
}

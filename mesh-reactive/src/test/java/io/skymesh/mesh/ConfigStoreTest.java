package io.skymesh.mesh;

import static io.skymesh.mesh.TestMeshes.DEADLINE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.skymesh.core.exceptions.RemoteException;
import io.skymesh.mesh.internal.DefaultMesh;
import io.skymesh.proto.StatusCode;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;
import reactor.util.function.Tuple2;

/** The KV config through {@code mesh.config()}. */
class ConfigStoreTest {

  private TestMeshes fixture;

  @BeforeEach
  void startNameServer() {
    fixture = TestMeshes.withNameServer();
  }

  @AfterEach
  void closeEverything() {
    fixture.close();
  }

  @Test
  void putGetListAndDeleteOfExactlyOneKey() {
    ConfigStore config = fixture.mesh().config();
    long first = config.put("a", "1").block(DEADLINE);
    config.put("ab", "2").block(DEADLINE);
    config.put("b/c", ByteString.copyFromUtf8("3")).block(DEADLINE);

    ConfigEntry a = config.get("a").block(DEADLINE);
    assertThat(a.stringValue()).isEqualTo("1");
    assertThat(a.modRevision()).isEqualTo(first);
    assertThat(config.find("missing").block(DEADLINE)).isEmpty();
    StepVerifier.create(config.get("missing")).expectComplete().verify(DEADLINE);
    assertThat(config.list("a").block(DEADLINE))
        .extracting(ConfigEntry::key)
        .containsExactly("a", "ab");

    assertThat(config.delete("a").block(DEADLINE)).isTrue();
    assertThat(config.delete("a").block(DEADLINE)).isFalse();
    assertThat(config.get("ab").block(DEADLINE).stringValue()).isEqualTo("2");
    assertThat(config.deletePrefix("").block(DEADLINE)).isEqualTo(2);
    assertThat(config.list("").block(DEADLINE)).isEmpty();
  }

  @Test
  void typedGettersWithDefaults() {
    ConfigStore config = fixture.mesh().config();
    config.put("n", "42").block(DEADLINE);
    config.put("big", "9000000000").block(DEADLINE);
    config.put("flag", "TRUE").block(DEADLINE);
    config.put("t", "1500ms").block(DEADLINE);
    config.put("iso", "PT2M").block(DEADLINE);
    config.put("bad", "forty-two").block(DEADLINE);

    assertThat(config.getInt("n", 1).block(DEADLINE)).isEqualTo(42);
    assertThat(config.getInt("missing", 7).block(DEADLINE)).isEqualTo(7);
    assertThat(config.getLong("big", 0).block(DEADLINE)).isEqualTo(9_000_000_000L);
    assertThat(config.getBoolean("flag", false).block(DEADLINE)).isTrue();
    assertThat(config.getBoolean("missing", true).block(DEADLINE)).isTrue();
    assertThat(config.getDuration("t", Duration.ZERO).block(DEADLINE)).hasMillis(1500);
    assertThat(config.getDuration("iso", Duration.ZERO).block(DEADLINE)).hasMinutes(2);
    assertThat(config.getString("missing", "dflt").block(DEADLINE)).isEqualTo("dflt");
    StepVerifier.create(config.getInt("bad", 0))
        .expectErrorSatisfies(
            e ->
                assertThat(e)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("\"bad\"")
                    .hasMessageContaining("forty-two"))
        .verify(DEADLINE);
    // A default is not written back.
    assertThat(config.find("missing").block(DEADLINE)).isEmpty();
  }

  @Test
  void oversizedValueIsRefusedClearly() {
    ConfigStore config = fixture.mesh().config();

    StepVerifier.create(config.put("huge", ByteString.copyFrom(new byte[(1 << 20) + 1])))
        .expectErrorSatisfies(
            e -> {
              assertThat(e).isInstanceOf(RemoteException.class);
              assertThat(((RemoteException) e).statusCode()).isEqualTo(StatusCode.INVALID_ARGUMENT);
              assertThat(e).hasMessageContaining("1048577 bytes").hasMessageContaining("1048576");
            })
        .verify(DEADLINE);
  }

  @Test
  void compareAndSetLosesCorrectlyUnderARace() {
    ConfigStore a = fixture.mesh().config();
    ConfigStore b = fixture.mesh().config();
    assertThat(a.compareAndSet("lock", 0, ByteString.copyFromUtf8("a")).block(DEADLINE)).isTrue();
    assertThat(b.compareAndSet("lock", 0, ByteString.copyFromUtf8("b")).block(DEADLINE)).isFalse();

    for (int round = 0; round < 30; round++) {
      long expected = a.get("lock").block(DEADLINE).modRevision();
      Tuple2<Boolean, Boolean> results =
          Mono.zip(
                  a.compareAndSet("lock", expected, ByteString.copyFromUtf8("a" + round)),
                  b.compareAndSet("lock", expected, ByteString.copyFromUtf8("b" + round)))
              .block(DEADLINE);
      assertThat(results.getT1() ^ results.getT2()).as("exactly one winner").isTrue();
      String winner = results.getT1() ? "a" : "b";
      assertThat(a.get("lock").block(DEADLINE).stringValue()).isEqualTo(winner + round);
    }
  }

  @Test
  void watchStartsWithTheCurrentKeysAndResumesAfterAReconnectionWithoutGaps() {
    DefaultMesh watching = (DefaultMesh) fixture.mesh();
    ConfigStore writer = fixture.mesh().config();
    writer.put("cfg/a", "1").block(DEADLINE);
    writer.put("other", "x").block(DEADLINE);
    List<ConfigChange> changes = new CopyOnWriteArrayList<>();
    Disposable watch = watching.config().watch("cfg/").subscribe(changes::add);
    await().atMost(DEADLINE).until(() -> changes.size() == 1);

    writer.put("cfg/b", "2").block(DEADLINE);
    await().atMost(DEADLINE).until(() -> changes.size() == 2);
    watching.nameServerClient().disconnect();
    for (int i = 0; i < 20; i++) {
      writer.put("cfg/k" + (i % 4), "v" + i).block(DEADLINE);
    }
    writer.delete("cfg/a").block(DEADLINE);
    long last = writer.put("cfg/z", "end").block(DEADLINE);

    await().atMost(DEADLINE).until(() -> changes.get(changes.size() - 1).revision() == last);
    watch.dispose();
    assertThat(changes.get(0))
        .isEqualTo(
            new ConfigChange(
                ConfigChange.Type.PUT,
                "cfg/a",
                ByteString.copyFromUtf8("1"),
                changes.get(0).revision()));
    // 1 initial + 1 + 20 puts + 1 delete + 1 put: every change once, in revision order.
    assertThat(changes).hasSize(24);
    assertThat(changes.stream().skip(1).map(ConfigChange::revision).toList())
        .isSorted()
        .doesNotHaveDuplicates();
    Map<String, String> view = new TreeMap<>();
    for (ConfigChange change : changes) {
      if (change.type() == ConfigChange.Type.PUT) {
        view.put(change.key(), change.stringValue());
      } else {
        view.remove(change.key());
      }
    }
    Map<String, String> truth = new TreeMap<>();
    writer.list("cfg/").block(DEADLINE).forEach(e -> truth.put(e.key(), e.stringValue()));
    assertThat(view).isEqualTo(truth);
  }
}

package io.skymesh.mesh.internal;

import com.google.protobuf.ByteString;
import io.skymesh.core.exceptions.MeshClosedException;
import io.skymesh.core.exceptions.RemoteException;
import io.skymesh.mesh.ConfigChange;
import io.skymesh.mesh.ConfigEntry;
import io.skymesh.mesh.ConfigStore;
import io.skymesh.mesh.internal.naming.NameServerClient;
import io.skymesh.proto.KvEntry;
import io.skymesh.proto.KvWatchEvent;
import io.skymesh.proto.StatusCode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/** The KV config over the mesh's name-server session. */
final class DefaultConfigStore implements ConfigStore {

  private final NameServerClient names;

  /** Emits once when the mesh closes: every watch completes. */
  private final Sinks.One<Boolean> closing = Sinks.one();

  private volatile boolean closed;

  DefaultConfigStore(NameServerClient names) {
    this.names = names;
  }

  /** Completes every watch; a watch subscribed later fails at once with MeshClosedException. */
  void close() {
    closed = true;
    closing.tryEmitValue(true);
  }

  @Override
  public Mono<ConfigEntry> get(String key) {
    Objects.requireNonNull(key, "key");
    return names
        .kvGet(key)
        .flatMap(result -> result.getFound() ? Mono.just(entry(result.getEntry())) : Mono.empty());
  }

  @Override
  public Mono<Long> put(String key, ByteString value) {
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(value, "value");
    return names.kvPut(key, value, null);
  }

  @Override
  public Mono<Boolean> compareAndSet(String key, long expectedModRevision, ByteString value) {
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(value, "value");
    if (expectedModRevision < 0) {
      throw new IllegalArgumentException(
          "expectedModRevision: " + expectedModRevision + " (expected: >= 0)");
    }
    return names
        .kvPut(key, value, expectedModRevision)
        .thenReturn(true)
        .onErrorResume(DefaultConfigStore::compareFailed, e -> Mono.just(false));
  }

  @Override
  public Mono<Boolean> delete(String key) {
    Objects.requireNonNull(key, "key");
    return names.kvDelete(key, false, null).map(count -> count > 0);
  }

  @Override
  public Mono<Long> deletePrefix(String prefix) {
    Objects.requireNonNull(prefix, "prefix");
    return names.kvDelete(prefix, true, null);
  }

  @Override
  public Mono<List<ConfigEntry>> list(String prefix) {
    Objects.requireNonNull(prefix, "prefix");
    return names
        .kvList(prefix)
        .map(entries -> entries.stream().map(DefaultConfigStore::entry).toList());
  }

  @Override
  public Flux<ConfigChange> watch(String prefix) {
    Objects.requireNonNull(prefix, "prefix");
    return Flux.defer(
        () -> {
          if (closed) {
            return Flux.error(
                new MeshClosedException("mesh is closed: no config watch of \"" + prefix + "\""));
          }
          // Per subscriber: what it has been told, to turn a (resync) snapshot into differences.
          Map<String, KvEntry> told = new HashMap<>();
          return names
              .kvWatch(prefix)
              .takeUntilOther(closing.asMono())
              // The client's own end at the close is the same end as ours.
              .onErrorResume(MeshClosedException.class, e -> closed ? Flux.empty() : Flux.error(e))
              .concatMapIterable(event -> changes(told, event));
        });
  }

  private static List<ConfigChange> changes(Map<String, KvEntry> told, KvWatchEvent event) {
    long revision = event.getRevision();
    List<ConfigChange> changes = new ArrayList<>();
    switch (event.getEventCase()) {
      case SNAPSHOT -> {
        Map<String, KvEntry> now = new HashMap<>();
        for (KvEntry entry : event.getSnapshot().getEntriesList()) {
          now.put(entry.getKey(), entry);
        }
        for (String key : told.keySet()) {
          if (!now.containsKey(key)) {
            changes.add(
                new ConfigChange(ConfigChange.Type.DELETED, key, ByteString.EMPTY, revision));
          }
        }
        for (KvEntry entry : event.getSnapshot().getEntriesList()) {
          KvEntry before = told.get(entry.getKey());
          if (before == null || before.getModRevision() != entry.getModRevision()) {
            changes.add(
                new ConfigChange(
                    ConfigChange.Type.PUT, entry.getKey(), entry.getValue(), revision));
          }
        }
        told.clear();
        told.putAll(now);
      }
      case PUT -> {
        KvEntry entry = event.getPut();
        told.put(entry.getKey(), entry);
        changes.add(
            new ConfigChange(ConfigChange.Type.PUT, entry.getKey(), entry.getValue(), revision));
      }
      case DELETED_KEY -> {
        if (told.remove(event.getDeletedKey()) != null) {
          changes.add(
              new ConfigChange(
                  ConfigChange.Type.DELETED, event.getDeletedKey(), ByteString.EMPTY, revision));
        }
      }
      case EVENT_NOT_SET -> {
        // A newer server's event: nothing to report.
      }
    }
    return changes;
  }

  private static boolean compareFailed(Throwable error) {
    return error instanceof RemoteException remote
        && remote.statusCode() == StatusCode.FAILED_PRECONDITION;
  }

  static ConfigEntry entry(KvEntry entry) {
    return new ConfigEntry(
        entry.getKey(), entry.getValue(), entry.getCreateRevision(), entry.getModRevision());
  }
}

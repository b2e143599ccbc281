package io.skymesh.mesh;

import com.google.protobuf.ByteString;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The name server's KV config (cellmesh's cloud config): keys to bytes with revisions, prefix
 * listing, watches and compare-and-set. One KV space per name server, shared by every app.
 *
 * <pre>{@code
 * ConfigStore config = mesh.config();
 * config.put("game/route", "zone1").then(config.getInt("game/max-players", 100)).subscribe(...);
 * config.watch("game/").subscribe(change -> log.info("{} {}", change.type(), change.key()));
 * }</pre>
 *
 * <p>Every method is lazy, never blocks, and fails with a typed exception as {@code onError}: a key
 * that is empty or over 1024 characters, or a value over the name server's maximum value size
 * (default 1 MiB), fails with {@code RemoteException} of code {@code INVALID_ARGUMENT} whose
 * message names the sizes; no answer within the mesh's request timeout fails with {@code
 * MeshTimeoutException}. Requests wait for the name server while it is being reconnected, and a
 * write whose answer was lost with the connection is sent again (so it may be applied twice).
 */
public interface ConfigStore {

  /**
   * Reads a key.
   *
   * @param key the key
   * @return the entry, or empty if the key does not exist
   */
  Mono<ConfigEntry> get(String key);

  /**
   * Writes a key.
   *
   * @param key the key
   * @param value the value
   * @return the revision of the write
   */
  Mono<Long> put(String key, ByteString value);

  /**
   * Writes a key with a UTF-8 value.
   *
   * @param key the key
   * @param value the value
   * @return the revision of the write
   */
  default Mono<Long> put(String key, String value) {
    return put(key, ByteString.copyFromUtf8(value));
  }

  /**
   * Writes a key only if its mod revision is {@code expectedModRevision} (0: only if it does not
   * exist). Of several racing compare-and-sets with the same expected revision, exactly one wins.
   *
   * @param key the key
   * @param expectedModRevision the {@link ConfigEntry#modRevision()} read before, or 0
   * @param value the new value
   * @return true if written, false if the key had changed (or exists, for 0)
   */
  Mono<Boolean> compareAndSet(String key, long expectedModRevision, ByteString value);

  /**
   * Deletes exactly one key: {@code delete("a")} leaves {@code "ab"} alone.
   *
   * @param key the key
   * @return true if it existed
   */
  Mono<Boolean> delete(String key);

  /**
   * Deletes every key that starts with {@code prefix}.
   *
   * @param prefix the prefix; empty deletes every key
   * @return how many keys were deleted
   */
  Mono<Long> deletePrefix(String prefix);

  /**
   * Lists the keys under a prefix, in key order.
   *
   * @param prefix the prefix; empty lists every key
   * @return the entries
   */
  Mono<List<ConfigEntry>> list(String prefix);

  /**
   * Watches the keys under a prefix. Cold: each subscription starts its own watch, which first
   * reports a {@code PUT} for every key that exists (at the revision the watch started), then every
   * change in revision order. Across name-server reconnections it resumes from the last revision it
   * delivered, so nothing is missed or repeated; if the name server no longer has the changes
   * (compacted, or restarted), it compares the fresh state with what it had reported and reports
   * only the differences. Cancel to stop.
   *
   * <p>When the mesh closes the watch completes; a watch subscribed after the close fails at once
   * with {@code MeshClosedException}.
   *
   * @param prefix the prefix; empty watches every key
   * @return the changes
   */
  Flux<ConfigChange> watch(String prefix);

  /**
   * A UTF-8 value, or {@code defaultValue} if the key does not exist. Nothing is written.
   *
   * @param key the key
   * @param defaultValue the value of a missing key
   * @return the value
   */
  default Mono<String> getString(String key, String defaultValue) {
    return get(key).map(ConfigEntry::stringValue).defaultIfEmpty(defaultValue);
  }

  /**
   * An int value (decimal text), or {@code defaultValue} if the key does not exist.
   *
   * @param key the key
   * @param defaultValue the value of a missing key
   * @return the value; fails with {@code IllegalArgumentException} naming the key and the text if
   *     it is not an int
   */
  default Mono<Integer> getInt(String key, int defaultValue) {
    return typed(key, Integer::valueOf, "an int").defaultIfEmpty(defaultValue);
  }

  /**
   * A long value (decimal text), or {@code defaultValue} if the key does not exist.
   *
   * @param key the key
   * @param defaultValue the value of a missing key
   * @return the value; fails with {@code IllegalArgumentException} if it is not a long
   */
  default Mono<Long> getLong(String key, long defaultValue) {
    return typed(key, Long::valueOf, "a long").defaultIfEmpty(defaultValue);
  }

  /**
   * A boolean value ({@code true} or {@code false}, any case), or {@code defaultValue} if the key
   * does not exist.
   *
   * @param key the key
   * @param defaultValue the value of a missing key
   * @return the value; fails with {@code IllegalArgumentException} for any other text
   */
  default Mono<Boolean> getBoolean(String key, boolean defaultValue) {
    return typed(
            key,
            text -> {
              if (text.equalsIgnoreCase("true") || text.equalsIgnoreCase("false")) {
                return Boolean.valueOf(text);
              }
              throw new IllegalArgumentException(text);
            },
            "true or false")
        .defaultIfEmpty(defaultValue);
  }

  /**
   * A duration (ISO-8601 such as {@code PT10S}, or {@code 500ms}, {@code 10s}, {@code 2m}, {@code
   * 1h}), or {@code defaultValue} if the key does not exist.
   *
   * @param key the key
   * @param defaultValue the value of a missing key
   * @return the value; fails with {@code IllegalArgumentException} if it is not a duration
   */
  default Mono<Duration> getDuration(String key, Duration defaultValue) {
    return typed(key, ConfigStore::parseDuration, "a duration (e.g. 10s, 500ms, PT1M)")
        .defaultIfEmpty(defaultValue);
  }

  private <T> Mono<T> typed(String key, Function<String, T> parse, String expected) {
    return get(key)
        .map(
            entry -> {
              String text = entry.stringValue().trim();
              try {
                return parse.apply(text);
              } catch (RuntimeException e) {
                throw new IllegalArgumentException(
                    "config key \"" + key + "\": \"" + text + "\" (expected: " + expected + ")", e);
              }
            });
  }

  private static Duration parseDuration(String text) {
    Matcher simple = Pattern.compile("(\\d+)(ms|s|m|h)").matcher(text);
    if (simple.matches()) {
      long amount = Long.parseLong(simple.group(1));
      return switch (simple.group(2)) {
        case "ms" -> Duration.ofMillis(amount);
        case "s" -> Duration.ofSeconds(amount);
        case "m" -> Duration.ofMinutes(amount);
        default -> Duration.ofHours(amount);
      };
    }
    return Duration.parse(text);
  }

  /**
   * Reads a key, as an {@code Optional}.
   *
   * @param key the key
   * @return the entry if the key exists
   */
  default Mono<Optional<ConfigEntry>> find(String key) {
    return get(key).map(Optional::of).defaultIfEmpty(Optional.empty());
  }
}

package io.skymesh.mesh;

import com.google.protobuf.ByteString;
import java.util.Objects;

/**
 * A change of one key, as {@link ConfigStore#watch(String)} reports it.
 *
 * @param type written or deleted
 * @param key the key
 * @param value the new value; empty for a deletion
 * @param revision the name server's revision of the change (for the keys a watch starts with, the
 *     revision it started at)
 */
public record ConfigChange(Type type, String key, ByteString value, long revision) {

  /** What happened to the key. */
  public enum Type {
    /** The key was written (or existed when the watch started). */
    PUT,
    /** The key was deleted. */
    DELETED
  }

  /**
   * Checks the components.
   *
   * @throws NullPointerException if a component is null
   */
  public ConfigChange {
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(value, "value");
  }

  /** The value as UTF-8 text. */
  public String stringValue() {
    return value.toStringUtf8();
  }
}

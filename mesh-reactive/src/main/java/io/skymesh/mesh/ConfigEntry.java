package io.skymesh.mesh;

import com.google.protobuf.ByteString;
import java.util.Objects;

/**
 * One key of the KV config and its value.
 *
 * @param key the key
 * @param value the value's bytes
 * @param createRevision the revision at which the key was created
 * @param modRevision the revision of the key's last write; what {@link
 *     ConfigStore#compareAndSet(String, long, ByteString)} compares
 */
public record ConfigEntry(String key, ByteString value, long createRevision, long modRevision) {

  /**
   * Checks the components.
   *
   * @throws NullPointerException if {@code key} or {@code value} is null
   */
  public ConfigEntry {
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(value, "value");
  }

  /** The value as UTF-8 text. */
  public String stringValue() {
    return value.toStringUtf8();
  }
}

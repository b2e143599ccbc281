package io.skymesh.codec;

import io.skymesh.proto.Header;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Converts between the wire's {@code repeated Header} metadata and a {@code Map}, with the meaning
 * of a protobuf {@code map<string, string>} field (which has the same encoding): a key that appears
 * twice takes its last value. Empty metadata costs nothing either way.
 */
public final class Headers {

  /** The most metadata entries a receiver accepts on one message, request or response. */
  public static final int MAX_COUNT = 64;

  /** The most bytes of metadata (encoded entries) a receiver accepts on one message. */
  public static final int MAX_BYTES = 8192;

  private Headers() {}

  /**
   * Why metadata received from a peer is refused, or null if it is within {@link #MAX_COUNT}
   * entries and {@link #MAX_BYTES} bytes.
   *
   * @param headers the wire's entries
   * @return the reason, naming the limit; or null
   */
  public static String check(List<Header> headers) {
    int size = headers.size();
    if (size == 0) {
      return null;
    }
    if (size > MAX_COUNT) {
      return size + " metadata entries, over the limit of " + MAX_COUNT;
    }
    int bytes = 0;
    for (int i = 0; i < size; i++) {
      bytes += headers.get(i).getSerializedSize() + 2;
    }
    if (bytes > MAX_BYTES) {
      return bytes + " bytes of metadata, over the limit of " + MAX_BYTES;
    }
    return null;
  }

  /**
   * The metadata as a map.
   *
   * @param headers the wire's entries
   * @return an immutable map, which {@link Map#copyOf} returns as is
   */
  public static Map<String, String> toMap(List<Header> headers) {
    int size = headers.size();
    if (size == 0) {
      return Map.of();
    }
    if (size == 1) {
      Header only = headers.get(0);
      return Map.of(only.getKey(), only.getValue());
    }
    Map<String, String> map = new HashMap<>(size * 2);
    for (int i = 0; i < size; i++) {
      Header header = headers.get(i);
      map.put(header.getKey(), header.getValue());
    }
    return Map.copyOf(map);
  }

  /**
   * The metadata as wire entries.
   *
   * @param headers the map; its keys and values must not be {@code null}
   * @return the entries, in the map's iteration order; an empty list when there are none
   * @throws NullPointerException if a key or value is {@code null}
   */
  public static List<Header> fromMap(Map<String, String> headers) {
    if (headers.isEmpty()) {
      return List.of();
    }
    List<Header> entries = new ArrayList<>(headers.size());
    headers.forEach(
        (key, value) -> entries.add(Header.newBuilder().setKey(key).setValue(value).build()));
    return entries;
  }
}

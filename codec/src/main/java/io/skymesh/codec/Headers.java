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

  private Headers() {}

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

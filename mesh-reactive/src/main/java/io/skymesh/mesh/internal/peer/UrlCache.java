package io.skymesh.mesh.internal.peer;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceUrl;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The wire forms of the addresses requests and messages carry, converted once: a sender sends the
 * same few source and destination urls over and over, and a receiver receives the same few strings.
 * Parsing them on the server was about a tenth of its time per request; formatting and UTF-8
 * encoding them on the caller, most of the rest of a {@code Request}'s encoding. On the {@code
 * Data} path, parsing and formatting were 40% of the bytes allocated per message.
 *
 * <p>Bounded: past {@value #MAX_ENTRIES} distinct entries a map starts over, so a peer sending ever
 * new addresses costs a conversion each, never memory. Thread-safe, lock-free on a hit.
 */
public final class UrlCache {

  /** The entries a map holds at most before it starts over. */
  public static final int MAX_ENTRIES = 4096;

  private final Map<String, ServiceUrl> parsed = new ConcurrentHashMap<>();
  private final Map<ServiceUrl, ByteString> encoded = new ConcurrentHashMap<>();

  /**
   * The url of a string.
   *
   * @param text a {@code ServiceUrl}'s string form
   * @return the url
   * @throws IllegalArgumentException if it does not parse (not cached)
   */
  public ServiceUrl parse(String text) {
    ServiceUrl url = parsed.get(text);
    if (url == null) {
      url = ServiceUrl.parse(text);
      put(parsed, text, url);
    }
    return url;
  }

  /**
   * The UTF-8 bytes of a url's string form, for a protobuf {@code string} field.
   *
   * @param url the url
   * @return its bytes
   */
  public ByteString utf8(ServiceUrl url) {
    ByteString bytes = encoded.get(url);
    if (bytes == null) {
      bytes = ByteString.copyFromUtf8(url.toString());
      put(encoded, url, bytes);
    }
    return bytes;
  }

  private static <K, V> void put(Map<K, V> map, K key, V value) {
    if (map.size() >= MAX_ENTRIES) {
      map.clear();
    }
    map.put(key, value);
  }
}

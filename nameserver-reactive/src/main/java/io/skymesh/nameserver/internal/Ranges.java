package io.skymesh.nameserver.internal;

import java.util.NavigableMap;
import java.util.TreeMap;

/** Prefix ranges of sorted maps. */
final class Ranges {

  private Ranges() {}

  /** The entries of {@code map} whose key starts with {@code prefix}, in key order. */
  static <V> NavigableMap<String, V> startingWith(TreeMap<String, V> map, String prefix) {
    if (prefix.isEmpty()) {
      return map;
    }
    char last = prefix.charAt(prefix.length() - 1);
    if (last == Character.MAX_VALUE) {
      return map.tailMap(prefix, true);
    }
    String end = prefix.substring(0, prefix.length() - 1) + (char) (last + 1);
    return map.subMap(prefix, true, end, false);
  }

  /** The canonical ServiceName of a canonical ServiceUrl. */
  static String serviceNameOf(String url) {
    return url.substring(0, url.indexOf('/'));
  }
}

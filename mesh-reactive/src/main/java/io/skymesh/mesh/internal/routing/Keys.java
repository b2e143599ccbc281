package io.skymesh.mesh.internal.routing;

/**
 * Stable 64-bit hashes of routing keys: the same key hashes the same in every JVM for strings, byte
 * arrays and integral numbers. Strings are hashed as FNV-1a over their UTF-16 units, finished with
 * MurmurHash3's 64-bit mixer so every input bit reaches every output bit.
 */
public final class Keys {

  private static final long FNV_OFFSET = 0xcbf29ce484222325L;
  private static final long FNV_PRIME = 0x100000001b3L;

  private Keys() {}

  /**
   * The 64-bit hash of a routing key: strings and byte arrays by content, {@code Long}, {@code
   * Integer}, {@code Short} and {@code Byte} by value, anything else by its {@code hashCode}.
   *
   * @param key a non-null key
   * @return its hash
   */
  public static long hash(Object key) {
    if (key instanceof CharSequence chars) {
      return hash(chars);
    }
    if (key instanceof byte[] bytes) {
      long h = FNV_OFFSET;
      for (byte b : bytes) {
        h = (h ^ (b & 0xFF)) * FNV_PRIME;
      }
      return mix(h);
    }
    if (isIntegral(key)) {
      return mix(((Number) key).longValue());
    }
    return mix(key.hashCode());
  }

  /**
   * The 64-bit hash of a string's UTF-16 units.
   *
   * @param chars the string
   * @return its hash
   */
  public static long hash(CharSequence chars) {
    long h = FNV_OFFSET;
    for (int i = 0, n = chars.length(); i < n; i++) {
      h = (h ^ chars.charAt(i)) * FNV_PRIME;
    }
    return mix(h);
  }

  /** Whether {@code key} is a whole number taken by value. */
  static boolean isIntegral(Object key) {
    return key instanceof Long
        || key instanceof Integer
        || key instanceof Short
        || key instanceof Byte;
  }

  /**
   * MurmurHash3's 64-bit finalizer: a bijection that spreads every input bit over the output.
   *
   * @param k a value
   * @return it, mixed
   */
  public static long mix(long k) {
    k ^= k >>> 33;
    k *= 0xff51afd7ed558ccdL;
    k ^= k >>> 33;
    k *= 0xc4ceb9fe1a85ec53L;
    k ^= k >>> 33;
    return k;
  }

  /**
   * Maps a well-mixed hash onto {@code [0, n)} by its top 32 bits (Lemire's multiply-shift), with a
   * bias below {@code n / 2^32}.
   *
   * @param hash a mixed hash
   * @param n the range, 1 to {@code Integer.MAX_VALUE}
   * @return an index
   */
  public static int index(long hash, int n) {
    return (int) (((hash >>> 32) * n) >>> 32);
  }
}

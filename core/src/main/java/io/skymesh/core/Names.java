package io.skymesh.core;

import java.util.regex.Pattern;

/** Parsing rules shared by {@link ServiceName} and {@link ServiceUrl}. */
final class Names {

  static final String SCHEME = "skymesh://";
  static final int MAX_PART_LENGTH = 64;
  private static final Pattern PART = Pattern.compile("[A-Za-z0-9_-]{1,64}");

  private Names() {}

  /** Removes the optional {@code skymesh://}; any other scheme is an error naming it. */
  static String stripScheme(String kind, String input) {
    if (input.startsWith(SCHEME)) {
      return input.substring(SCHEME.length());
    }
    int scheme = input.indexOf("://");
    if (scheme >= 0) {
      throw new IllegalArgumentException(
          "Invalid "
              + kind
              + " \""
              + input
              + "\": scheme \""
              + input.substring(0, scheme + 3)
              + "\" is not "
              + SCHEME);
    }
    return input;
  }

  /** Checks one part and returns it; {@code whole} and {@code kind} go into the message. */
  static String checkPart(String kind, String whole, String partName, String value) {
    if (value == null || !PART.matcher(value).matches()) {
      throw new IllegalArgumentException(
          "Invalid "
              + kind
              + " \""
              + whole
              + "\": "
              + partName
              + " "
              + (value == null ? "is missing" : "\"" + value + "\"")
              + " must be 1 to 64 of [A-Za-z0-9_-]");
    }
    return value;
  }
}

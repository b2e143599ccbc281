package io.skymesh.core;

/** Parsing rules shared by {@link ServiceName} and {@link ServiceUrl}. */
final class Names {

  static final String SCHEME = "skymesh://";
  static final int MAX_PART_LENGTH = 64;

  /** The longest ServiceUrl text: the scheme, four parts of 64 and their separators. */
  static final int MAX_URL_LENGTH = SCHEME.length() + 4 * MAX_PART_LENGTH + 3;

  /** How much of a client's text an error message quotes at most. */
  static final int MAX_QUOTED = 64;

  private Names() {}

  /**
   * {@code text} quoted for an error message: whole when short, else its first {@value #MAX_QUOTED}
   * characters and its length, so an error about a huge input stays small.
   */
  static String quote(String text) {
    if (text.length() <= MAX_QUOTED + 16) {
      return "\"" + text + "\"";
    }
    return "\"" + text.substring(0, MAX_QUOTED) + "...\" (" + text.length() + " characters)";
  }

  /** Refuses a text longer than any valid {@code kind}, before splitting it. */
  static void checkLength(String kind, String text, int max) {
    if (text.length() > max) {
      throw new IllegalArgumentException(
          "Invalid "
              + kind
              + " "
              + quote(text)
              + ": "
              + text.length()
              + " characters, longer than any "
              + kind
              + " (at most "
              + max
              + ")");
    }
  }

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
              + " "
              + quote(input)
              + ": scheme "
              + quote(input.substring(0, scheme + 3))
              + " is not "
              + SCHEME);
    }
    return input;
  }

  /**
   * Whether {@code value} is 1 to 64 of {@code [A-Za-z0-9_-]}. A loop, not a regex: every inbound
   * message's two ServiceUrls are parsed, and the regex was most of a receiver's CPU.
   */
  static boolean isPart(String value) {
    int length = value == null ? 0 : value.length();
    if (length < 1 || length > MAX_PART_LENGTH) {
      return false;
    }
    for (int i = 0; i < length; i++) {
      char c = value.charAt(i);
      boolean ok =
          (c >= 'a' && c <= 'z')
              || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9')
              || c == '_'
              || c == '-';
      if (!ok) {
        return false;
      }
    }
    return true;
  }

  /** Checks one part and returns it; {@code whole} and {@code kind} go into the message. */
  static String checkPart(String kind, String whole, String partName, String value) {
    if (!isPart(value)) {
      throw new IllegalArgumentException(
          "Invalid "
              + kind
              + " "
              + quote(whole)
              + ": "
              + partName
              + " "
              + (value == null ? "is missing" : quote(value))
              + " must be 1 to 64 of [A-Za-z0-9_-]");
    }
    return value;
  }
}

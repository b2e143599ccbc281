package io.skymesh.mesh.internal.transport;

import java.util.Objects;

/** A peer's listen address, {@code host:port} ({@code [v6]:port} for an IPv6 literal). */
record PeerAddress(String host, int port) {

  /**
   * Parses {@code host:port}.
   *
   * @throws IllegalArgumentException naming the input and what is wrong with it
   */
  static PeerAddress parse(String address) {
    Objects.requireNonNull(address, "address");
    int colon = address.lastIndexOf(':');
    if (colon <= 0 || colon == address.length() - 1) {
      throw invalid(address, "expected host:port");
    }
    String host = address.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    } else if (host.indexOf(':') >= 0) {
      throw invalid(address, "an IPv6 host must be in brackets, as in [::1]:7000");
    }
    if (host.isEmpty()) {
      throw invalid(address, "empty host");
    }
    int port;
    try {
      port = Integer.parseInt(address.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw invalid(address, "the port is not a number");
    }
    if (port < 1 || port > 65535) {
      throw invalid(address, "port " + port + " (expected: 1..65535)");
    }
    return new PeerAddress(host, port);
  }

  /** Formats {@code host} and {@code port} the way {@link #parse} reads them. */
  static String format(String host, int port) {
    return host.indexOf(':') >= 0 ? "[" + host + "]:" + port : host + ":" + port;
  }

  private static IllegalArgumentException invalid(String address, String why) {
    return new IllegalArgumentException("Invalid peer address \"" + address + "\": " + why);
  }

  @Override
  public String toString() {
    return format(host, port);
  }
}

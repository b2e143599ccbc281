package io.skymesh.nameserver.cli;

/** Ends an admin command with a message on stderr and an exit code. */
final class CliFailure extends RuntimeException {

  private static final long serialVersionUID = 1L;

  /** The key, service or instance does not exist. */
  static final int NOT_FOUND = 1;

  /** The server cannot be reached, the connection was lost, or it did not answer in time. */
  static final int UNREACHABLE = 3;

  /** The server refused the request (a failed compare-and-set, a value too large, ...). */
  static final int REFUSED = 4;

  final int exitCode;

  CliFailure(int exitCode, String message) {
    super(message, null, false, false);
    this.exitCode = exitCode;
  }
}

package io.skymesh.nameserver.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The standalone name server's command line: {@code java -jar nameserver.jar serve --port 9099}
 * runs a server; the other subcommands administer a running one at {@code --addr host:port}
 * (default {@code 127.0.0.1:9099}): {@code services [prefix]}, {@code watch <service>}, {@code
 * leaders [prefix]}, {@code kv get|put|delete|list|clear}, {@code clear-services}.
 *
 * <pre>{@code
 * java -jar nameserver-reactive/target/nameserver.jar serve --host 0.0.0.0 --port 9099 \
 *     --session-ttl 10s
 * java -jar nameserver-reactive/target/nameserver.jar kv put --addr 10.0.0.5:9099 config/x 42
 * }</pre>
 *
 * <p>Exit codes: {@value #OK} success; {@value #NOT_FOUND} the key (or instance) does not exist;
 * {@value #USAGE} bad arguments; {@value #UNREACHABLE} the server cannot be reached, the connection
 * was lost or no answer came within {@code --timeout}; {@value #REFUSED} the server refused the
 * request (a failed compare-and-set, a value over the size limit, a bad key). Admin commands block
 * their calling thread: the CLI is a blocking edge, never called from an event loop.
 */
@Command(
    name = "nameserver",
    mixinStandardHelpOptions = true,
    versionProvider = NameServerCli.Version.class,
    description = "The Skymesh name server.",
    subcommands = {
      ServeCommand.class,
      ServicesCommand.class,
      WatchCommand.class,
      LeadersCommand.class,
      KvCommand.class,
      ClearServicesCommand.class,
      HealthCommand.class,
      CommandLine.HelpCommand.class
    })
public final class NameServerCli implements Runnable {

  /** Exit code: success. */
  public static final int OK = 0;

  /** Exit code: the key, service or instance does not exist. */
  public static final int NOT_FOUND = CliFailure.NOT_FOUND;

  /** Exit code: bad arguments (picocli's usage error). */
  public static final int USAGE = 2;

  /** Exit code: the server cannot be reached, the connection was lost, or it did not answer. */
  public static final int UNREACHABLE = CliFailure.UNREACHABLE;

  /** Exit code: the server refused the request. */
  public static final int REFUSED = CliFailure.REFUSED;

  @CommandLine.Spec private CommandLine.Model.CommandSpec spec;

  /** Creates the top-level command; picocli fills it in. */
  public NameServerCli() {}

  /**
   * Runs the command line and exits with its status; {@code serve} returns only once the server has
   * closed (on SIGINT or SIGTERM).
   *
   * @param args the arguments, for example {@code serve --port 9099}
   */
  public static void main(String[] args) {
    configureConsoleLogging();
    int status = commandLine().execute(args);
    if (status != 0) {
      System.exit(status);
    }
  }

  /**
   * The command line, ready to {@code execute} or {@code parseArgs}.
   *
   * @return a new picocli command line for this command and its subcommands
   */
  public static CommandLine commandLine() {
    return new CommandLine(new NameServerCli());
  }

  /** Without a subcommand, prints the usage. */
  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** Defaults for slf4j-simple, the jar's logger, unless set with -D. */
  private static void configureConsoleLogging() {
    setIfAbsent("org.slf4j.simpleLogger.showDateTime", "true");
    setIfAbsent("org.slf4j.simpleLogger.dateTimeFormat", "yyyy-MM-dd'T'HH:mm:ss.SSSXXX");
    setIfAbsent("org.slf4j.simpleLogger.showShortLogName", "true");
  }

  private static void setIfAbsent(String key, String value) {
    if (System.getProperty(key) == null) {
      System.setProperty(key, value);
    }
  }

  /** The version from the jar's manifest, when there is one. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String version = NameServerCli.class.getPackage().getImplementationVersion();
      return new String[] {"skymesh nameserver " + (version == null ? "(development)" : version)};
    }
  }
}

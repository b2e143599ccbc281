package io.skymesh.nameserver.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The standalone name server's command line: {@code java -jar nameserver.jar serve --port 9099}.
 * Subcommands: {@code serve}; listing, watching and KV commands come later.
 *
 * <pre>{@code
 * java -jar nameserver-reactive/target/nameserver.jar serve --host 0.0.0.0 --port 9099 \
 *     --session-ttl 10s
 * }</pre>
 */
@Command(
    name = "nameserver",
    mixinStandardHelpOptions = true,
    versionProvider = NameServerCli.Version.class,
    description = "The Skymesh name server.",
    subcommands = {ServeCommand.class, CommandLine.HelpCommand.class})
public final class NameServerCli implements Runnable {

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

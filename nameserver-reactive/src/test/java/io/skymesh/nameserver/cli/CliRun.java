package io.skymesh.nameserver.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import picocli.CommandLine;

/**
 * One run of the name server's command line in the test's JVM: its exit status and what it wrote.
 *
 * @param status the exit status
 * @param out standard output
 * @param err standard error
 */
record CliRun(int status, String out, String err) {

  /** Runs the command line with {@code args}. */
  static CliRun of(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli =
        NameServerCli.commandLine().setOut(new PrintWriter(out)).setErr(new PrintWriter(err));
    int status = cli.execute(args);
    return new CliRun(status, out.toString(), err.toString());
  }

  /** The {@code serve} command {@code args} describe, parsed but not run: start() it. */
  static ServeCommand serveCommand(String... args) {
    CommandLine.ParseResult parsed = NameServerCli.commandLine().parseArgs(args);
    return (ServeCommand) parsed.subcommand().commandSpec().userObject();
  }
}

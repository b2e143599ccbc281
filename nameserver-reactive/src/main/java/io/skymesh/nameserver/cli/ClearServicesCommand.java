package io.skymesh.nameserver.cli;

import io.skymesh.proto.Ack;
import io.skymesh.proto.ClearServices;
import io.skymesh.proto.NameClientFrame;
import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code clear-services <prefix> | --all}: removes live instances, whoever registered them. */
@Command(
    name = "clear-services",
    mixinStandardHelpOptions = true,
    description =
        "Removes every live instance whose ServiceUrl starts with PREFIX (--all: every instance).")
final class ClearServicesCommand extends AdminCommand {

  @Parameters(index = "0", arity = "0..1", paramLabel = "PREFIX")
  String prefix;

  @Option(names = "--all", description = "Remove every instance.")
  boolean all;

  @Override
  int run(AdminClient client, PrintWriter out) {
    String target = KvCommand.requirePrefixOrAll(spec, prefix, all);
    Ack ack =
        client.ack(
            NameClientFrame.newBuilder()
                .setClearServices(ClearServices.newBuilder().setPrefix(target)));
    out.println("removed " + ack.getCount() + " instance(s)");
    return 0;
  }
}

package io.skymesh.nameserver.cli;

import io.skymesh.proto.Leader;
import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code leaders [prefix]}: each election's service, leader (or none) and term. */
@Command(
    name = "leaders",
    mixinStandardHelpOptions = true,
    description = "Shows the leader and term of every election.")
final class LeadersCommand extends AdminCommand {

  @Parameters(
      index = "0",
      arity = "0..1",
      defaultValue = "",
      paramLabel = "PREFIX",
      description = "Only services whose name starts with it. Default: all.")
  String prefix;

  @Override
  int run(AdminClient client, PrintWriter out) {
    for (Leader leader : ServicesCommand.snapshot(client, prefix).getLeadersList()) {
      out.println(leader.getServiceName() + "  " + describe(leader));
    }
    return 0;
  }
}

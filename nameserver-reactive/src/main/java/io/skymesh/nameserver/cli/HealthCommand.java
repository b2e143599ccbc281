package io.skymesh.nameserver.cli;

import io.skymesh.proto.Ack;
import io.skymesh.proto.HealthCheck;
import io.skymesh.proto.NameClientFrame;
import java.io.PrintWriter;
import picocli.CommandLine.Command;

/**
 * {@code health}: asks the server's protocol port whether the node can serve, without opening a
 * session; for probes that cannot speak HTTP (a container's exec probe, a script).
 */
@Command(
    name = "health",
    mixinStandardHelpOptions = true,
    description = {
      "Asks whether the name server can serve, on its protocol port, without opening a session.",
      "Prints SERVING and exits 0 when it can; exits 4 with the reason when it cannot (its store"
          + " unreachable), 3 when it cannot be reached."
    })
final class HealthCommand extends AdminCommand {

  @Override
  boolean opensSession() {
    return false;
  }

  @Override
  int run(AdminClient client, PrintWriter out) {
    Ack ack =
        client.ack(NameClientFrame.newBuilder().setHealthCheck(HealthCheck.getDefaultInstance()));
    out.println("SERVING  revision " + ack.getRevision());
    return 0;
  }
}

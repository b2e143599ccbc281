package io.skymesh.nameserver.cli;

import io.skymesh.proto.Instance;
import io.skymesh.proto.Leader;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.Snapshot;
import io.skymesh.proto.Unwatch;
import io.skymesh.proto.Watch;
import java.io.PrintWriter;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code services [prefix]}: lists live services and their instances with attributes, and each
 * service's leader. Reads a snapshot through a prefix Watch, then Unwatches: no extra protocol.
 */
@Command(
    name = "services",
    mixinStandardHelpOptions = true,
    description = "Lists services and their instances with attributes and leaders.")
final class ServicesCommand extends AdminCommand {

  @Parameters(
      index = "0",
      arity = "0..1",
      defaultValue = "",
      paramLabel = "PREFIX",
      description = "Only services whose name starts with it, e.g. game.zone1. Default: all.")
  String prefix;

  @Override
  int run(AdminClient client, PrintWriter out) {
    Snapshot snapshot = snapshot(client, prefix);
    Map<String, Leader> leaders = byService(snapshot.getLeadersList());
    String service = null;
    for (Instance instance : snapshot.getInstancesList()) {
      String name = instance.getUrl().substring(0, instance.getUrl().indexOf('/'));
      if (!name.equals(service)) {
        service = name;
        Leader leader = leaders.get(name);
        out.println(name + (leader == null ? "" : "  leader " + describe(leader)));
      }
      out.println("  " + describe(instance));
    }
    return 0;
  }

  /** The instances and leaders under {@code prefix} now: a Watch's snapshot, then Unwatch. */
  static Snapshot snapshot(AdminClient client, String prefix) {
    long watchId = 1;
    client.ack(
        NameClientFrame.newBuilder()
            .setWatch(Watch.newBuilder().setWatchId(watchId).setPrefix(prefix)));
    Snapshot snapshot =
        client
            .events()
            .filter(f -> f.hasWatchEvent() && f.getWatchEvent().getWatchId() == watchId)
            .map(f -> f.getWatchEvent().getSnapshot())
            .blockFirst(client.timeout());
    if (snapshot == null) {
      throw new CliFailure(CliFailure.UNREACHABLE, "the name server sent no snapshot");
    }
    client.ack(NameClientFrame.newBuilder().setUnwatch(Unwatch.newBuilder().setWatchId(watchId)));
    return snapshot;
  }
}

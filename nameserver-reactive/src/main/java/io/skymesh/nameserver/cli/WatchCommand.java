package io.skymesh.nameserver.cli;

import io.skymesh.core.ServiceName;
import io.skymesh.proto.Instance;
import io.skymesh.proto.Leader;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.Watch;
import io.skymesh.proto.WatchEvent;
import java.io.PrintWriter;
import java.time.Duration;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import reactor.core.publisher.Flux;

/**
 * {@code watch <service>}: prints the service's snapshot, then every change, one line each, until
 * interrupted, or until {@code --count} events or {@code --for} a duration.
 */
@Command(
    name = "watch",
    mixinStandardHelpOptions = true,
    description = "Prints a service's instances and leader, then every change, until interrupted.")
final class WatchCommand extends AdminCommand {

  @Parameters(
      index = "0",
      paramLabel = "SERVICE",
      description = "The service, appId.env.service; with --prefix, a ServiceName prefix.")
  String service;

  @Option(names = "--prefix", description = "Watch every service whose name starts with SERVICE.")
  boolean prefix;

  @Option(
      names = "--count",
      paramLabel = "N",
      description = "Stop after N events (the first snapshot counts as one).")
  Integer count;

  @Option(
      names = "--for",
      paramLabel = "DURATION",
      converter = DurationConverter.class,
      description = "Stop after this long, e.g. 30s.")
  Duration duration;

  @Override
  int run(AdminClient client, PrintWriter out) {
    Watch.Builder watch = Watch.newBuilder().setWatchId(1);
    if (prefix) {
      watch.setPrefix(service);
    } else {
      try {
        watch.setServiceName(ServiceName.parse(service).toString());
      } catch (IllegalArgumentException e) {
        throw new ParameterException(spec.commandLine(), e.getMessage());
      }
    }
    if (count != null && count < 1) {
      throw new ParameterException(spec.commandLine(), "--count: " + count + " (expected: >= 1)");
    }
    client.ack(NameClientFrame.newBuilder().setWatch(watch));
    Flux<WatchEvent> events =
        client.events().filter(f -> f.hasWatchEvent()).map(f -> f.getWatchEvent());
    if (count != null) {
      events = events.take(count);
    }
    if (duration != null) {
      events = events.take(duration);
    }
    // The CLI's blocking edge: the main thread prints each event as it arrives.
    for (WatchEvent event : events.toIterable()) {
      print(out, event);
      out.flush();
    }
    return 0;
  }

  static void print(PrintWriter out, WatchEvent event) {
    String at = "@" + event.getRevision() + " ";
    switch (event.getEventCase()) {
      case SNAPSHOT -> {
        var snapshot = event.getSnapshot();
        out.println(
            at
                + (snapshot.getResync() ? "resync " : "")
                + "snapshot: "
                + snapshot.getInstancesCount()
                + " instance(s)");
        for (Instance instance : snapshot.getInstancesList()) {
          out.println(at + "  " + describe(instance));
        }
        for (Leader leader : snapshot.getLeadersList()) {
          out.println(at + "  leader of " + leader.getServiceName() + ": " + describe(leader));
        }
      }
      case INSTANCE_ADDED -> out.println(at + "added " + describe(event.getInstanceAdded()));
      case INSTANCE_UPDATED -> out.println(at + "updated " + describe(event.getInstanceUpdated()));
      case INSTANCE_REMOVED ->
          out.println(
              at
                  + "removed "
                  + event.getInstanceRemoved().getUrl()
                  + " ("
                  + event.getInstanceRemoved().getReason()
                  + ")");
      case LEADER_CHANGED ->
          out.println(
              at
                  + "leader of "
                  + event.getLeaderChanged().getServiceName()
                  + ": "
                  + describe(event.getLeaderChanged()));
      case EVENT_NOT_SET -> out.println(at + "(unknown event)");
    }
  }
}

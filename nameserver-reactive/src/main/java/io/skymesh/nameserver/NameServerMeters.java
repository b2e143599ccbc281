package io.skymesh.nameserver;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.StatusCode;
import java.util.Locale;
import java.util.Objects;
import java.util.function.ToDoubleFunction;

/**
 * The meters of a running name server, read from its {@link NameServer#metrics()} snapshot and its
 * {@link NameServer#counters()} when the registry is scraped: the server's own path only bumps
 * plain counters. Every meter is tagged with the server's address ({@code server="host:port"}).
 *
 * <pre>{@code
 * new NameServerMeters(server).bindTo(registry);
 * }</pre>
 *
 * <table>
 *   <caption>Meters</caption>
 *   <tr><th>name</th><th>type</th><th>what</th></tr>
 *   <tr><td>{@code skymesh.nameserver.sessions}</td><td>gauge</td><td>open sessions</td></tr>
 *   <tr><td>{@code skymesh.nameserver.connections}</td><td>gauge</td><td>connections held</td></tr>
 *   <tr><td>{@code skymesh.nameserver.instances}</td><td>gauge</td><td>live instances</td></tr>
 *   <tr><td>{@code skymesh.nameserver.watches}</td><td>gauge</td><td>active watches</td></tr>
 *   <tr><td>{@code skymesh.nameserver.revision}</td><td>gauge</td><td>the current revision</td></tr>
 *   <tr><td>{@code skymesh.nameserver.queued.frames}</td><td>gauge</td><td>frames waiting in the
 *       sessions' outbound queues</td></tr>
 *   <tr><td>{@code skymesh.nameserver.queued.frames.peak}</td><td>gauge</td><td>the most one
 *       session's queue has held</td></tr>
 *   <tr><td>{@code skymesh.nameserver.resyncs}</td><td>counter</td><td>watches switched to a
 *       resync snapshot because they fell behind</td></tr>
 *   <tr><td>{@code skymesh.nameserver.requests}</td><td>counter</td><td>requests read, tagged
 *       {@code kind} ({@code register}, {@code kv_put}, {@code campaign}, ...)</td></tr>
 *   <tr><td>{@code skymesh.nameserver.refusals}</td><td>counter</td><td>Error answers, tagged
 *       {@code status}</td></tr>
 *   <tr><td>{@code skymesh.nameserver.events}</td><td>counter</td><td>watch events sent</td></tr>
 * </table>
 */
public final class NameServerMeters implements MeterBinder {

  /** The prefix of every meter's name. */
  public static final String PREFIX = "skymesh.nameserver.";

  private final NameServer server;
  private final Tags tags;

  /**
   * Meters of {@code server}.
   *
   * @param server a started name server
   */
  public NameServerMeters(NameServer server) {
    this.server = Objects.requireNonNull(server, "server");
    this.tags =
        Tags.of(
            Tag.of("server", server.address().getHostString() + ":" + server.address().getPort()));
  }

  @Override
  public void bindTo(MeterRegistry registry) {
    gauge(registry, "sessions", "open sessions", m -> m.sessions());
    gauge(registry, "connections", "connections the server holds", m -> m.connections());
    gauge(registry, "instances", "live instances", m -> m.instances());
    gauge(registry, "watches", "active watches, instance and KV", m -> m.watches());
    gauge(registry, "revision", "the revision of the latest change", m -> m.revision());
    gauge(
        registry,
        "queued.frames",
        "frames waiting in the sessions' outbound queues",
        m -> m.queuedFrames());
    gauge(
        registry,
        "queued.frames.peak",
        "the most frames one session's outbound queue has held",
        m -> m.peakQueuedFrames());
    FunctionCounter.builder(PREFIX + "resyncs", server, s -> s.metrics().resyncs())
        .description("watches switched to a resync snapshot because they fell behind")
        .tags(tags)
        .register(registry);
    NameServerCounters counters = server.counters();
    for (NameClientFrame.BodyCase kind : NameClientFrame.BodyCase.values()) {
      FunctionCounter.builder(PREFIX + "requests", counters, c -> c.requests(kind))
          .description("requests read, by kind, accepted or not")
          .tags(tags)
          .tag("kind", kindTag(kind))
          .register(registry);
    }
    for (StatusCode code : StatusCode.values()) {
      if (code == StatusCode.OK || code == StatusCode.UNRECOGNIZED) {
        continue;
      }
      FunctionCounter.builder(PREFIX + "refusals", counters, c -> c.refusals(code))
          .description("Error answers, by status: refused requests and closed connections")
          .tags(tags)
          .tag("status", code.name())
          .register(registry);
    }
    FunctionCounter.builder(PREFIX + "events", counters, NameServerCounters::eventsSent)
        .description("watch events sent, instance and KV, snapshots included")
        .tags(tags)
        .register(registry);
  }

  /** The {@code kind} tag of a request: its body field's name, {@code unknown} for none. */
  static String kindTag(NameClientFrame.BodyCase kind) {
    return kind == NameClientFrame.BodyCase.BODY_NOT_SET
        ? "unknown"
        : kind.name().toLowerCase(Locale.ROOT);
  }

  private void gauge(
      MeterRegistry registry,
      String name,
      String description,
      ToDoubleFunction<NameServerMetrics> value) {
    Gauge.builder(PREFIX + name, server, s -> value.applyAsDouble(s.metrics()))
        .description(description)
        .tags(tags)
        .register(registry);
  }
}

package io.skymesh.mesh.internal.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.skymesh.core.ServiceName;
import io.skymesh.mesh.MembershipEvent;
import io.skymesh.mesh.ServiceView;
import io.skymesh.mesh.routing.RoutingPolicy;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The meters of one service's router: its view's size, its resyncs, the membership events it
 * applied and the picks made through it, by policy. {@link #NONE} counts nothing.
 */
public class RouterMeters {

  /** No meters. */
  public static final RouterMeters NONE = new RouterMeters();

  private RouterMeters() {}

  /**
   * The router's state, read when scraped.
   *
   * @param view the current view
   * @param resyncs how many resync snapshots the router has applied
   */
  public void bind(Supplier<ServiceView> view, LongSupplier resyncs) {}

  /**
   * Counts the membership events of one applied change.
   *
   * @param delta the change's events
   */
  public void applied(List<MembershipEvent> delta) {}

  /**
   * Counts a pick.
   *
   * @param policy the policy
   * @param chosen whether it chose an instance
   */
  public void picked(RoutingPolicy policy, boolean chosen) {}

  /** Removes the router's meters (it is closed). */
  public void close() {}

  /**
   * The {@code policy} tag: a built-in policy's factory name ({@code roundRobin}, {@code
   * consistentHash}...), else the policy's class name; never its arguments.
   *
   * @param policy the policy
   * @return the tag value
   */
  static String policyName(RoutingPolicy policy) {
    Class<?> type = policy.getClass();
    if (type.getPackageName().equals("io.skymesh.mesh.internal.routing")) {
      String text = policy.toString();
      int paren = text.indexOf('(');
      return paren > 0 ? text.substring(0, paren) : text;
    }
    String simple = type.getSimpleName();
    return simple.isEmpty() ? type.getName() : simple;
  }

  static final class Live extends RouterMeters {
    private final MeshMetrics metrics;
    private final MeterRegistry registry;
    private final Tags tags;
    private final Map<MembershipEvent.Type, Counter> events =
        new EnumMap<>(MembershipEvent.Type.class);
    private final Map<Class<?>, Counter[]> picks = new ConcurrentHashMap<>();
    private final List<Meter> meters = new ArrayList<>();

    Live(MeshMetrics metrics, MeterRegistry registry, ServiceName service) {
      this.metrics = metrics;
      this.registry = registry;
      this.tags = Tags.of("service", service.toString());
      for (MembershipEvent.Type type : MembershipEvent.Type.values()) {
        Counter counter =
            metrics.own(
                Counter.builder(MeshMetrics.PREFIX + "router.membership.events")
                    .description("membership events the router applied to its view, by type")
                    .tags(tags)
                    .tag("type", type.name())
                    .register(registry));
        events.put(type, counter);
        keep(counter);
      }
    }

    @Override
    public void bind(Supplier<ServiceView> view, LongSupplier resyncs) {
      keep(
          metrics.gauge(
              "router.instances",
              "live instances in the router's view",
              tags,
              view,
              current -> current.get().size()));
      keep(
          metrics.functionCounter(
              "router.resyncs",
              "resync snapshots the router compared with its view and applied the differences of",
              null,
              tags,
              resyncs,
              LongSupplier::getAsLong));
    }

    @Override
    public void applied(List<MembershipEvent> delta) {
      for (MembershipEvent event : delta) {
        events.get(event.type()).increment();
      }
    }

    @Override
    public void picked(RoutingPolicy policy, boolean chosen) {
      Counter[] pair = picks.get(policy.getClass());
      if (pair == null) {
        pair = picks.computeIfAbsent(policy.getClass(), type -> register(policyName(policy)));
      }
      pair[chosen ? 0 : 1].increment();
    }

    private synchronized Counter[] register(String policy) {
      Counter[] pair = new Counter[2];
      String[] outcomes = {"chosen", "none"};
      for (int i = 0; i < 2; i++) {
        pair[i] =
            metrics.own(
                Counter.builder(MeshMetrics.PREFIX + "router.picks")
                    .description("instances picked through the router, by policy and outcome")
                    .tags(tags)
                    .tag("policy", policy)
                    .tag("outcome", outcomes[i])
                    .register(registry));
        meters.add(pair[i]);
      }
      return pair;
    }

    private synchronized void keep(Meter meter) {
      if (meter != null) {
        meters.add(meter);
      }
    }

    @Override
    public synchronized void close() {
      meters.forEach(metrics::remove);
      meters.clear();
    }
  }
}

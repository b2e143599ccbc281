package io.skymesh.mesh.internal.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.skymesh.core.ServiceName;
import io.skymesh.core.exceptions.Statuses;
import io.skymesh.mesh.rpc.Reply;
import io.skymesh.proto.StatusCode;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.ToDoubleFunction;
import org.jspecify.annotations.Nullable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The meters of one mesh, or none. Every hook of {@link #NONE} returns its argument or does
 * nothing, so a mesh without a registry pays one branch per hook. With a registry, counters and
 * timers are resolved once per tag combination and cached; gauges and function counters read the
 * mesh's existing state when the registry is scraped. {@link #close()} removes every meter this
 * mesh registered.
 *
 * <p>Names, tags and units are listed in {@code docs/metrics.md}. Tags are bounded: service names,
 * method names, status codes, policy names and remote app ids; never instance urls, process ids or
 * addresses.
 */
public final class MeshMetrics {

  /** No registry: no meters, every hook a pass-through. */
  public static final MeshMetrics NONE = new MeshMetrics(null);

  /** The prefix of every mesh meter's name. */
  public static final String PREFIX = "skymesh.mesh.";

  /** The {@code method} tag of a request whose method the service does not have. */
  public static final String UNKNOWN_METHOD = "<unknown>";

  private static final StatusCode[] CODES = codes();

  private final @Nullable MeterRegistry registry;
  private final List<Meter> owned = new CopyOnWriteArrayList<>();

  /** What function counters read: Micrometer holds it weakly, so the mesh holds it here. */
  private final Map<Meter, Object> readBy = new ConcurrentHashMap<>();

  private final Map<ServiceName, Map<String, CallMeters>> calls = new ConcurrentHashMap<>();
  private final Map<ServiceName, Map<String, CallMeters>> handlers = new ConcurrentHashMap<>();
  private final Map<ServiceName, Map<String, CallMeters>> streams = new ConcurrentHashMap<>();
  private final Map<ServiceName, Map<String, CallMeters>> streamHandlers =
      new ConcurrentHashMap<>();
  private final Map<ServiceName, SendMeters> sends = new ConcurrentHashMap<>();
  private final Map<StatusCode, Counter> refused = new ConcurrentHashMap<>();
  private final Map<StatusCode, Counter> undelivered = new ConcurrentHashMap<>();
  private final @Nullable Counter repliesLost;
  private final @Nullable Counter unmatched;
  private final @Nullable ConnectionMeters connections;

  private MeshMetrics(@Nullable MeterRegistry registry) {
    this.registry = registry;
    this.repliesLost =
        registry == null
            ? null
            : own(
                Counter.builder(PREFIX + "replies.lost")
                    .description(
                        "replies and error replies to peers' requests that could not be written")
                    .register(registry));
    this.unmatched =
        registry == null
            ? null
            : own(
                Counter.builder(PREFIX + "responses.unmatched")
                    .description(
                        "responses from peers for which no request waited any more (it had timed"
                            + " out or been cancelled)")
                    .register(registry));
    this.connections = registry == null ? null : new ConnectionMeters(this, registry);
  }

  /**
   * The meters of a mesh.
   *
   * @param registry where they go, or {@code null} for none
   * @return {@link #NONE} without a registry
   */
  public static MeshMetrics of(@Nullable MeterRegistry registry) {
    return registry == null ? NONE : new MeshMetrics(registry);
  }

  /** Whether meters are registered at all. */
  public boolean enabled() {
    return registry != null;
  }

  /** The registry; {@code null} for {@link #NONE}. */
  public @Nullable MeterRegistry registry() {
    return registry;
  }

  /** Removes every meter this mesh registered; later hooks still count, into meters now unseen. */
  public void close() {
    MeterRegistry target = registry;
    if (target == null) {
      return;
    }
    for (Meter meter : owned) {
      target.remove(meter);
    }
    owned.clear();
    readBy.clear();
  }

  // ---------------------------------------------------------------------------------------------
  // Registration of state read when scraped

  /**
   * Registers a gauge that reads {@code state}; nothing without a registry.
   *
   * @param name the name after {@link #PREFIX}
   * @param description what it measures
   * @param tags its tags
   * @param state what it reads (held strongly, removed by {@link #close()})
   * @param value how
   * @param <T> the state's type
   * @return the gauge, or {@code null} without a registry
   */
  public <T> @Nullable Meter gauge(
      String name, String description, Tags tags, T state, ToDoubleFunction<T> value) {
    MeterRegistry target = registry;
    if (target == null) {
      return null;
    }
    return own(
        Gauge.builder(PREFIX + name, state, value)
            .description(description)
            .tags(tags)
            .strongReference(true)
            .register(target));
  }

  /**
   * Registers a counter whose count an existing, monotonic counter of the mesh holds; nothing
   * without a registry.
   *
   * @param name the name after {@link #PREFIX}
   * @param description what it counts
   * @param unit its base unit, or {@code null}
   * @param tags its tags
   * @param state what it reads (held strongly until the counter is removed)
   * @param count how
   * @param <T> the state's type
   * @return the counter, or {@code null} without a registry
   */
  public <T> @Nullable Meter functionCounter(
      String name,
      String description,
      @Nullable String unit,
      Tags tags,
      T state,
      ToDoubleFunction<T> count) {
    MeterRegistry target = registry;
    if (target == null) {
      return null;
    }
    Meter meter =
        own(
            FunctionCounter.builder(PREFIX + name, state, count)
                .description(description)
                .baseUnit(unit)
                .tags(tags)
                .register(target));
    readBy.put(meter, state);
    return meter;
  }

  /** Removes one meter this mesh registered (a router closed, a group of connections gone). */
  void remove(Meter meter) {
    MeterRegistry target = registry;
    if (target != null && owned.remove(meter)) {
      readBy.remove(meter);
      target.remove(meter);
    }
  }

  <M extends Meter> M own(M meter) {
    owned.add(meter);
    return meter;
  }

  // ---------------------------------------------------------------------------------------------
  // Hooks

  /**
   * Counts a message's send by its outcome once it ends: {@code OK} when written (or handled in
   * process), else the status of its error; {@code CANCELLED} if the sender cancelled first.
   *
   * @param service the destination's service
   * @param bytes the payload's size
   * @param send the send
   * @return the send, counted
   */
  public Mono<Void> send(ServiceName service, int bytes, Mono<Void> send) {
    if (registry == null) {
      return send;
    }
    SendMeters meters = sends.get(service);
    if (meters == null) {
      meters = sends.computeIfAbsent(service, SendMeters::new);
    }
    SendMeters counted = meters;
    return new Measured<>(send, (code, nanos) -> counted.record(code, bytes));
  }

  /**
   * Times a request or notification from this process, tagged by its outcome.
   *
   * @param service the destination's service
   * @param method the method
   * @param call the call, lazy
   * @return the call, timed
   */
  public Mono<Reply> call(ServiceName service, String method, Mono<Reply> call) {
    if (registry == null) {
      return call;
    }
    return timed(callMeters(calls, service, method, "requests"), call);
  }

  /**
   * Times a handler of this process, tagged by its outcome.
   *
   * @param service the handler's service
   * @param method the method, or {@link #UNKNOWN_METHOD}
   * @param handler the handler's reply, lazy
   * @return the reply, timed
   */
  public Mono<Reply> handle(ServiceName service, String method, Mono<Reply> handler) {
    if (registry == null) {
      return handler;
    }
    return timed(callMeters(handlers, service, method, "handlers"), handler);
  }

  /**
   * Times a stream or channel from this process, from subscription to its end, tagged by its
   * outcome ({@code CANCELLED} if the caller cancelled).
   *
   * @param service the destination's service
   * @param method the method
   * @param stream the stream, lazy
   * @return the stream, timed
   */
  public Flux<Reply> stream(ServiceName service, String method, Flux<Reply> stream) {
    if (registry == null) {
      return stream;
    }
    return timed(callMeters(streams, service, method, "streams"), stream);
  }

  /**
   * Times a stream or channel handler of this process, tagged by its outcome.
   *
   * @param service the handler's service
   * @param method the method, or {@link #UNKNOWN_METHOD}
   * @param handler the handler's replies, lazy
   * @return the replies, timed
   */
  public Flux<Reply> handleStream(ServiceName service, String method, Flux<Reply> handler) {
    if (registry == null) {
      return handler;
    }
    return timed(callMeters(streamHandlers, service, method, "stream.handlers"), handler);
  }

  /**
   * Counts a peer's request refused before any handler ran (answered with this status).
   *
   * @param code why
   */
  public void requestRefused(StatusCode code) {
    MeterRegistry target = registry;
    if (target != null) {
      refused
          .computeIfAbsent(
              known(code),
              c ->
                  own(
                      Counter.builder(PREFIX + "requests.refused")
                          .description("peers' requests refused before a handler ran, by status")
                          .tag("status", c.name())
                          .register(target)))
          .increment();
    }
  }

  /**
   * Counts a report from a peer that a message or notification of this process was not delivered.
   *
   * @param code the status it reported
   */
  public void undelivered(StatusCode code) {
    MeterRegistry target = registry;
    if (target != null) {
      undelivered
          .computeIfAbsent(
              known(code),
              c ->
                  own(
                      Counter.builder(PREFIX + "sends.undelivered")
                          .description(
                              "peers' reports that a message or notification sent from here was"
                                  + " not handed to a handler, by status")
                          .tag("status", c.name())
                          .register(target)))
          .increment();
    }
  }

  /** Counts a reply to a peer's request that could not be written (its connection closed). */
  public void replyLost() {
    Counter counter = repliesLost;
    if (counter != null) {
      counter.increment();
    }
  }

  /** Counts a peer's response that no request waits for (timed out or cancelled first). */
  public void responseUnmatched() {
    Counter counter = unmatched;
    if (counter != null) {
      counter.increment();
    }
  }

  /**
   * The meters of one service's router.
   *
   * @param service the service
   * @return {@link RouterMeters#NONE} without a registry
   */
  public RouterMeters router(ServiceName service) {
    MeterRegistry target = registry;
    return target == null ? RouterMeters.NONE : new RouterMeters.Live(this, target, service);
  }

  /**
   * The meters of peer connections, or {@code null} without a registry.
   *
   * @return the connection meters
   */
  public @Nullable ConnectionMeters connections() {
    return connections;
  }

  // ---------------------------------------------------------------------------------------------

  private CallMeters callMeters(
      Map<ServiceName, Map<String, CallMeters>> table,
      ServiceName service,
      String method,
      String name) {
    Map<String, CallMeters> methods = table.get(service);
    if (methods == null) {
      methods = table.computeIfAbsent(service, s -> new ConcurrentHashMap<>());
    }
    CallMeters meters = methods.get(method);
    if (meters == null) {
      meters = methods.computeIfAbsent(method, m -> new CallMeters(name, service, m));
    }
    return meters;
  }

  private static Mono<Reply> timed(CallMeters meters, Mono<Reply> call) {
    return new Measured<>(call, meters);
  }

  private static Flux<Reply> timed(CallMeters meters, Flux<Reply> stream) {
    return Flux.defer(
        () -> {
          long start = System.nanoTime();
          StatusCode[] outcome = {StatusCode.CANCELLED};
          return stream
              .doOnComplete(() -> outcome[0] = StatusCode.OK)
              .doOnError(error -> outcome[0] = code(error))
              .doFinally(signal -> meters.ended(outcome[0], System.nanoTime() - start));
        });
  }

  static StatusCode code(Throwable error) {
    return known(Statuses.toStatus(error).getCode());
  }

  /** A status a newer peer sent that this build does not know counts as {@code UNKNOWN}. */
  static StatusCode known(StatusCode code) {
    return code == StatusCode.UNRECOGNIZED ? StatusCode.UNKNOWN : code;
  }

  private static StatusCode[] codes() {
    return java.util.Arrays.stream(StatusCode.values())
        .filter(code -> code != StatusCode.UNRECOGNIZED)
        .toArray(StatusCode[]::new);
  }

  /** The timers of one (service, method), one per status, made on first use. */
  private final class CallMeters implements Measured.Outcome {
    private final String name;
    private final Tags tags;
    private final AtomicReferenceArray<Timer> timers = new AtomicReferenceArray<>(CODES.length);

    CallMeters(String name, ServiceName service, String method) {
      this.name = name;
      this.tags = Tags.of("service", service.toString(), "method", method);
    }

    @Override
    public void ended(StatusCode code, long nanos) {
      timer(code).record(nanos, TimeUnit.NANOSECONDS);
    }

    Timer timer(StatusCode code) {
      int index = code.ordinal();
      Timer timer = timers.get(index);
      if (timer == null) {
        MeterRegistry target = registry;
        timer =
            Timer.builder(PREFIX + name)
                .description(
                    switch (name) {
                      case "requests" -> "requests and notifications from this process, by outcome";
                      case "streams" -> "streams and channels from this process, by outcome";
                      case "stream.handlers" ->
                          "stream and channel handlers of this process's services, by outcome";
                      default -> "handlers of this process's services, by outcome";
                    })
                .tags(tags)
                .tag("status", code.name())
                .register(target);
        if (timers.compareAndSet(index, null, timer)) {
          own(timer);
        } else {
          timer = timers.get(index);
        }
      }
      return timer;
    }
  }

  /** The counters of sends to one service, per status, made on first use. */
  private final class SendMeters {
    private final String service;
    private final AtomicReferenceArray<Counter[]> counters =
        new AtomicReferenceArray<>(CODES.length);

    SendMeters(ServiceName service) {
      this.service = service.toString();
    }

    void record(StatusCode code, int bytes) {
      Counter[] pair = counters.get(code.ordinal());
      if (pair == null) {
        pair = resolve(code);
      }
      pair[0].increment();
      pair[1].increment(bytes);
    }

    private Counter[] resolve(StatusCode code) {
      MeterRegistry target = registry;
      Counter[] pair = {
        Counter.builder(PREFIX + "sends")
            .description("messages sent from this process, by outcome")
            .tags("service", service, "status", code.name())
            .register(target),
        Counter.builder(PREFIX + "sends.bytes")
            .description("payload bytes of the messages sent from this process, by outcome")
            .baseUnit("bytes")
            .tags("service", service, "status", code.name())
            .register(target)
      };
      if (counters.compareAndSet(code.ordinal(), null, pair)) {
        own(pair[0]);
        own(pair[1]);
        return pair;
      }
      return counters.get(code.ordinal());
    }
  }
}

package io.skymesh.benchmarks;

import io.skymesh.nameserver.NameServer;
import io.skymesh.nameserver.client.NameServerConnection;
import io.skymesh.proto.Ack;
import io.skymesh.proto.Deregister;
import io.skymesh.proto.Instance;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.OpenSession;
import io.skymesh.proto.Register;
import io.skymesh.proto.Watch;
import io.skymesh.proto.WatchEvent;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import reactor.core.publisher.Flux;

/**
 * Membership fan-out at scale: one change of a service of {@code instances} instances reaching
 * {@code watchers} watchers of it, each on a connection (and session) of its own to the embedded
 * name server over loopback TCP.
 *
 * <p>One operation registers an instance (the next one deregisters it) and ends when every watcher
 * has decoded the event. Sampled ({@code Mode.SampleTime}), so the score's percentiles are the time
 * from the request to the <em>last</em> watcher: its p99 is the fan-out's p99. Each iteration's
 * teardown also prints the percentiles of the time to each watcher ({@code per watcher}), one
 * sample per watcher per change.
 *
 * <p>The watchers are plain {@link NameServerConnection}s that decode every frame and count the
 * events; they run in the benchmark's JVM on the same two cores as the server, so their decoding is
 * part of the figure. Every watch has its snapshot of the {@code instances} before the first
 * change, and a change a watcher misses for 30 s fails the run instead of scoring.
 *
 * <pre>{@code
 * java -jar benchmarks/target/benchmarks.jar MembershipFanOut -f1 -wi 3 -i 10 -w 3s -r 3s
 * }</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class MembershipFanOutBenchmark {

  private static final Duration DEADLINE = Duration.ofSeconds(30);
  private static final String SERVICE = "bench.local.fanout";
  private static final String CHANGING = SERVICE + "/changing";
  private static final int TTL_MILLIS = (int) TimeUnit.HOURS.toMillis(1);
  private static final int MAX_SAMPLES = 4_000_000;

  /** How many watchers, each on a connection of its own, see each change. */
  @Param({"1000"})
  public int watchers;

  /** How many instances the watched service holds. */
  @Param({"10000"})
  public int instances;

  private NameServer server;
  private NameServerConnection registrar;
  private final List<NameServerConnection> watching = new ArrayList<>();

  /** Released once a change has reached every watcher (once, not per watcher: no wake-up storm). */
  private final Semaphore seen = new Semaphore(0);

  private final AtomicInteger unseen = new AtomicInteger();
  private final Semaphore ready = new Semaphore(0);
  private final long[] delivery = new long[MAX_SAMPLES];
  private final AtomicInteger samples = new AtomicInteger();
  private volatile long changedAt;
  private boolean registered;
  private Map<String, Long> cpuAtStart = Map.of();

  /** Starts the name server, registers the instances and connects the watchers. */
  @Setup(Level.Trial)
  public void setUp() throws InterruptedException {
    server =
        NameServer.builder()
            .host("127.0.0.1")
            .port(0)
            .maxSessionTtl(Duration.ofHours(1))
            .start()
            .block(DEADLINE);
    registrar = connect(null);
    Flux.range(0, instances)
        .flatMap(
            i ->
                registrar.request(
                    request()
                        .setRegister(
                            Register.newBuilder().setInstance(instance(SERVICE + "/" + i))),
                    "register",
                    DEADLINE),
            256)
        .blockLast(DEADLINE.multipliedBy(4));
    Flux.range(0, watchers)
        .flatMap(
            i -> {
              NameServerConnection connection = connect(this::onEvent);
              synchronized (watching) {
                watching.add(connection);
              }
              return connection.request(
                  request().setWatch(Watch.newBuilder().setWatchId(1 + i).setServiceName(SERVICE)),
                  "watch",
                  DEADLINE);
            },
            16)
        .blockLast(DEADLINE.multipliedBy(10));
    if (!ready.tryAcquire(watchers, DEADLINE.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new IllegalStateException("not every watcher had its snapshot within " + DEADLINE);
    }
  }

  private NameServerConnection connect(Consumer<NameServerFrame> onEvent) {
    NameServerConnection.Builder builder =
        NameServerConnection.builder("127.0.0.1", server.port()).maxFrameLength(64 * 1024 * 1024);
    if (onEvent != null) {
      builder.onEvent(onEvent);
    }
    NameServerConnection connection = builder.connect().block(DEADLINE);
    connection
        .request(
            request()
                .setOpenSession(
                    OpenSession.newBuilder()
                        .setProtocolVersion(1)
                        .setAppId("bench")
                        .setTtlMillis(TTL_MILLIS)),
            "open session",
            DEADLINE)
        .block(DEADLINE);
    return connection;
  }

  private static NameClientFrame.Builder request() {
    return NameClientFrame.newBuilder();
  }

  private static Instance instance(String url) {
    return Instance.newBuilder().setUrl(url).setAddress("127.0.0.1:9").setWeight(1).build();
  }

  /** A watcher's event, on its connection's event loop. */
  private void onEvent(NameServerFrame frame) {
    WatchEvent event = frame.getWatchEvent();
    if (event.hasSnapshot()) {
      if (!event.getSnapshot().getContinued()) {
        ready.release();
      }
    } else if (event.hasInstanceAdded() || event.hasInstanceRemoved()) {
      long took = System.nanoTime() - changedAt;
      int at = samples.getAndIncrement();
      if (at < MAX_SAMPLES) {
        delivery[at] = took;
      }
      if (unseen.decrementAndGet() == 0) {
        seen.release();
      }
    }
  }

  /**
   * Registers or deregisters one instance and waits until every watcher has seen it.
   *
   * @throws Exception if a watcher does not see the change within 30 s
   */
  @Benchmark
  public void change() throws Exception {
    NameClientFrame.Builder change =
        registered
            ? request().setDeregister(Deregister.newBuilder().setUrl(CHANGING))
            : request().setRegister(Register.newBuilder().setInstance(instance(CHANGING)));
    registered = !registered;
    unseen.set(watchers);
    changedAt = System.nanoTime();
    CompletableFuture<Ack> ack = registrar.request(change, "change", DEADLINE).toFuture();
    if (!seen.tryAcquire(DEADLINE.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new IllegalStateException(
          unseen.get() + " of " + watchers + " watchers did not see the change within " + DEADLINE);
    }
    ack.get(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Notes each thread's CPU time at the start of an iteration. */
  @Setup(Level.Iteration)
  public void startIteration() {
    cpuAtStart = cpuByThreadGroup();
  }

  /**
   * Prints the time to each watcher over the iteration and the CPU time each group of threads spent
   * per change (the name server's writer and event loops, the watchers' event loops), and starts
   * counting afresh.
   */
  @TearDown(Level.Iteration)
  public void printPerWatcher() {
    int n = Math.min(samples.getAndSet(0), MAX_SAMPLES);
    if (n == 0) {
      return;
    }
    double changes = n / (double) watchers;
    StringBuilder cpu = new StringBuilder("CPU per change:");
    cpuByThreadGroup()
        .forEach(
            (group, nanos) -> {
              double perChange = (nanos - cpuAtStart.getOrDefault(group, 0L)) / changes / 1e3;
              if (perChange >= 10) {
                cpu.append(String.format(" %s %.0f us;", group, perChange));
              }
            });
    System.out.printf("%n%s", cpu);
    long[] sorted = Arrays.copyOf(delivery, n);
    Arrays.sort(sorted);
    System.out.printf(
        "%nper watcher (%,d deliveries): p50 %.0f us, p99 %.0f us, p99.9 %.0f us, max %.0f us%n",
        n, micros(sorted, 0.50), micros(sorted, 0.99), micros(sorted, 0.999), sorted[n - 1] / 1e3);
  }

  /** CPU time by thread name without its trailing number (a pool's threads together). */
  private static Map<String, Long> cpuByThreadGroup() {
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    Map<String, Long> byGroup = new TreeMap<>();
    for (ThreadInfo info : threads.getThreadInfo(threads.getAllThreadIds())) {
      if (info == null) {
        continue;
      }
      long nanos = threads.getThreadCpuTime(info.getThreadId());
      if (nanos > 0) {
        byGroup.merge(info.getThreadName().replaceAll("[-#]?\\d+$", ""), nanos, Long::sum);
      }
    }
    return byGroup;
  }

  private static double micros(long[] sorted, double quantile) {
    return sorted[(int) Math.min(sorted.length - 1, Math.ceil(quantile * sorted.length) - 1)] / 1e3;
  }

  /** Closes the watchers, the registrar and the name server. */
  @TearDown(Level.Trial)
  public void tearDown() {
    watching.forEach(NameServerConnection::dispose);
    if (registrar != null) {
      registrar.dispose();
    }
    if (server != null) {
      server.closeNow(DEADLINE);
    }
  }
}

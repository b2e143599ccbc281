package io.skymesh.benchmarks;

import io.skymesh.nameserver.client.NameServerConnection;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.OpenSession;
import io.skymesh.proto.Watch;
import io.skymesh.proto.WatchEvent;
import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import reactor.core.publisher.Flux;
import reactor.netty.resources.LoopResources;

/**
 * The watchers of {@link MembershipFanOutBenchmark}: {@code n} plain {@link NameServerConnection}s,
 * each with a session and a watch of one service of its own, decoding every frame. When the last of
 * them has decoded a change it reports it, with how long before that moment each watcher decoded it
 * (its own clock only: no clock is compared with another process's).
 *
 * <p>Runs inside the benchmark's JVM, or as a process of its own ({@link #main}), which talks to
 * the benchmark over its standard input and output, one line per message:
 *
 * <ul>
 *   <li>out {@code READY}: every watcher has its snapshot;
 *   <li>out {@code D}: the last watcher has decoded the latest change, written as soon as it has;
 *   <li>in {@code T nanos}: the benchmark's time from issuing that change to reading its {@code D};
 *       each watcher's time is that minus how long before the {@code D} it decoded the change;
 *   <li>in {@code S}: out {@code S} and the per-watcher percentiles and CPU per change since the
 *       last {@code S};
 *   <li>end of input: the process closes its connections and exits.
 * </ul>
 */
public final class FanOutWatchers {

  static final Duration DEADLINE = Duration.ofSeconds(30);
  private static final int TTL_MILLIS = (int) TimeUnit.HOURS.toMillis(1);
  private static final int MAX_SAMPLES = 4_000_000;

  /** Told on the event loop of the watcher that decoded a change last. */
  interface OnChange {
    /**
     * @param last the watchers' {@code System.nanoTime()} when the last one decoded the change
     * @param before for each watcher, how long before {@code last} it decoded the change
     */
    void reached(long last, long[] before);
  }

  private final int watchers;
  private final LoopResources loops;
  private final List<NameServerConnection> connections = new ArrayList<>();
  private final long[] decodedAt;
  private final AtomicInteger unseen;
  private final Semaphore ready = new Semaphore(0);
  private final OnChange onChange;

  private final long[] samples = new long[MAX_SAMPLES];
  private int sampled;

  FanOutWatchers(int watchers, int loops, OnChange onChange) {
    this.watchers = watchers;
    this.loops = LoopResources.create("fanout-watchers", 1, loops, true);
    this.decodedAt = new long[watchers];
    this.unseen = new AtomicInteger(watchers);
    this.onChange = onChange;
  }

  /** Connects the watchers and returns once each has its snapshot. */
  void connect(String host, int port, String service) throws InterruptedException {
    Flux.range(0, watchers)
        .flatMap(
            i -> {
              NameServerConnection connection = open(host, port, i);
              synchronized (connections) {
                connections.add(connection);
              }
              return connection.request(
                  NameClientFrame.newBuilder()
                      .setWatch(Watch.newBuilder().setWatchId(1 + i).setServiceName(service)),
                  "watch",
                  DEADLINE);
            },
            16)
        .blockLast(DEADLINE.multipliedBy(10));
    if (!ready.tryAcquire(watchers, DEADLINE.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new IllegalStateException("not every watcher had its snapshot within " + DEADLINE);
    }
  }

  private NameServerConnection open(String host, int port, int index) {
    return openSession(
        NameServerConnection.builder(host, port)
            .runOn(loops)
            .onEvent(frame -> onEvent(index, frame)));
  }

  /**
   * Connects (frames up to 64 MiB: a snapshot of the whole service) and opens a session of app
   * {@code bench} that outlives the run; for the watchers here and the benchmark's own client.
   * Blocks: set-up only.
   */
  static NameServerConnection openSession(NameServerConnection.Builder builder) {
    NameServerConnection connection =
        builder.maxFrameLength(64 * 1024 * 1024).connect().block(DEADLINE);
    connection
        .request(
            NameClientFrame.newBuilder()
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

  /** A watcher's event, on its connection's event loop. */
  private void onEvent(int index, NameServerFrame frame) {
    WatchEvent event = frame.getWatchEvent();
    if (event.hasSnapshot()) {
      if (!event.getSnapshot().getContinued()) {
        ready.release();
      }
    } else if (event.hasInstanceAdded() || event.hasInstanceRemoved()) {
      decodedAt[index] = System.nanoTime();
      // The decrement orders every watcher's write above before the last one's reads below.
      if (unseen.decrementAndGet() == 0) {
        long last = System.nanoTime();
        long[] before = new long[watchers];
        for (int i = 0; i < watchers; i++) {
          before[i] = last - decodedAt[i];
        }
        // The next change is issued only once this one is reported.
        unseen.set(watchers);
        onChange.reached(last, before);
      }
    }
  }

  /** Records each watcher's time to a change that took {@code total} nanoseconds to the last. */
  synchronized void record(long total, long[] before) {
    for (long b : before) {
      if (sampled < MAX_SAMPLES) {
        samples[sampled++] = total - b;
      }
    }
  }

  /** The per-watcher percentiles since the last call, and starts afresh; null if none. */
  synchronized String takePercentiles() {
    int n = sampled;
    sampled = 0;
    if (n == 0) {
      return null;
    }
    long[] sorted = Arrays.copyOf(samples, n);
    Arrays.sort(sorted);
    return String.format(
        "per watcher (%,d deliveries): p50 %.0f us, p99 %.0f us, p99.9 %.0f us, max %.0f us",
        n, micros(sorted, 0.50), micros(sorted, 0.99), micros(sorted, 0.999), sorted[n - 1] / 1e3);
  }

  int watchers() {
    return watchers;
  }

  private static double micros(long[] sorted, double quantile) {
    return sorted[(int) Math.min(sorted.length - 1, Math.ceil(quantile * sorted.length) - 1)] / 1e3;
  }

  /** Closes every watcher's connection and their event loops; blocks (tear-down only). */
  void close() {
    synchronized (connections) {
      connections.forEach(NameServerConnection::dispose);
    }
    loops.disposeLater().block(DEADLINE);
  }

  /**
   * The watchers as a process of their own: {@code host port watchers service loops}; see the class
   * comment for what it says on its standard input and output.
   *
   * @param args the name server's host and port, how many watchers, the service to watch, how many
   *     event loops they share
   * @throws Exception if the watchers cannot connect or the benchmark's process goes away
   */
  public static void main(String[] args) throws Exception {
    PrintStream protocol =
        new PrintStream(new FileOutputStream(FileDescriptor.out), false, StandardCharsets.UTF_8);
    // Anything else printed goes to the standard error, which the benchmark's log shows.
    System.setOut(System.err);
    ConcurrentLinkedQueue<long[]> reported = new ConcurrentLinkedQueue<>();
    FanOutWatchers watchers =
        new FanOutWatchers(
            Integer.parseInt(args[2]),
            Integer.parseInt(args[4]),
            (last, before) -> {
              reported.add(before);
              synchronized (protocol) {
                protocol.print("D\n");
                protocol.flush();
              }
            });
    watchers.connect(args[0], Integer.parseInt(args[1]), args[3]);
    CpuByThreadGroup cpu = new CpuByThreadGroup();
    long changes = 0;
    synchronized (protocol) {
      protocol.print("READY\n");
      protocol.flush();
    }
    BufferedReader in =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    try {
      for (String line = in.readLine(); line != null; line = in.readLine()) {
        if (line.startsWith("T ")) {
          long[] before = reported.poll();
          if (before == null) {
            throw new IllegalStateException("a time for a change not reported: " + line);
          }
          watchers.record(Long.parseLong(line.substring(2)), before);
          changes++;
        } else if (line.equals("S")) {
          String percentiles = watchers.takePercentiles();
          String cpuLine = cpu.perChangeSinceLast(changes, "watchers' process");
          changes = 0;
          synchronized (protocol) {
            protocol.print(
                "S\t" + (percentiles == null ? "" : percentiles) + "\t" + cpuLine + "\n");
            protocol.flush();
          }
        } else {
          throw new IllegalStateException("unknown line from the benchmark: " + line);
        }
      }
    } catch (IOException e) {
      System.err.println("The benchmark's process went away: " + e);
    } finally {
      watchers.close();
    }
    System.exit(0);
  }
}

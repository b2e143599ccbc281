package io.skymesh.benchmarks;

import io.skymesh.nameserver.NameServer;
import io.skymesh.nameserver.client.NameServerConnection;
import io.skymesh.proto.Ack;
import io.skymesh.proto.Deregister;
import io.skymesh.proto.Instance;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.Register;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
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
 * sample per watcher per change, and the CPU time per change of each group of threads.
 *
 * <p>The watchers ({@link FanOutWatchers}) are plain {@link NameServerConnection}s that decode
 * every frame. With {@code watchersIn=process} (the default) they run in a JVM of their own,
 * started by the set-up with this JVM's class path, so the name server is measured from outside: a
 * change has reached the last watcher when this JVM reads that process's report of it, so the time
 * includes the report's one-way trip through a pipe, and each watcher's time is that minus how long
 * before the report it decoded the change (the watchers' clock only; no clocks of two processes are
 * compared). With {@code watchersIn=jvm} they run in the benchmark's JVM, their decoding competing
 * with the name server's threads. Every watch has its snapshot of the {@code instances} before the
 * first change, and a change a watcher misses for 30 s fails the run instead of scoring.
 *
 * <pre>{@code
 * java -jar benchmarks/target/benchmarks.jar MembershipFanOut -f1 -wi 3 -i 10 -w 3s -r 3s
 * java -jar benchmarks/target/benchmarks.jar MembershipFanOut -p watchersIn=jvm
 * }</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class MembershipFanOutBenchmark {

  private static final Duration DEADLINE = FanOutWatchers.DEADLINE;
  private static final String SERVICE = "bench.local.fanout";
  private static final String CHANGING = SERVICE + "/changing";

  /** How many watchers, each on a connection of its own, see each change. */
  @Param({"1000"})
  public int watchers;

  /** How many instances the watched service holds. */
  @Param({"10000"})
  public int instances;

  /**
   * Where the watchers run: {@code process}, a JVM of their own (the name server measured from
   * outside), or {@code jvm}, the benchmark's.
   */
  @Param({"process"})
  public String watchersIn;

  /** How many event loops the watchers share (one thread each). */
  @Param({"4"})
  public int watcherLoops;

  private NameServer server;
  private NameServerConnection registrar;

  /** The watchers in this JVM, or null. */
  private FanOutWatchers local;

  /** The watchers' process, or null. */
  private Process child;

  private OutputStream toChild;
  private final BlockingQueue<String> childReplies = new LinkedBlockingQueue<>();

  /** Released once a change has reached every watcher (once, not per watcher: no wake-up storm). */
  private final Semaphore seen = new Semaphore(0);

  /** When the latest change reached the last watcher, on this JVM's clock. */
  private volatile long reachedAt;

  /** In this JVM: how long before {@link #reachedAt} each watcher decoded the latest change. */
  private volatile long[] reachedBefore;

  private volatile long changedAt;
  private boolean registered;
  private long changes;
  private final CpuByThreadGroup cpu = new CpuByThreadGroup();

  /** Starts the name server, registers the instances and connects the watchers. */
  @Setup(Level.Trial)
  public void setUp() throws Exception {
    server =
        NameServer.builder()
            .host("127.0.0.1")
            .port(0)
            .maxSessionTtl(Duration.ofHours(1))
            .start()
            .block(DEADLINE);
    registrar = connect();
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
    switch (watchersIn) {
      case "jvm" -> {
        local =
            new FanOutWatchers(
                watchers,
                watcherLoops,
                (last, before) -> {
                  reachedBefore = before;
                  reachedAt = last;
                  seen.release();
                });
        local.connect("127.0.0.1", server.port(), SERVICE);
      }
      case "process" -> startWatchersProcess();
      default ->
          throw new IllegalArgumentException("watchersIn is process or jvm, not " + watchersIn);
    }
  }

  private void startWatchersProcess() throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    child =
        new ProcessBuilder(
                java,
                "-cp",
                System.getProperty("java.class.path"),
                FanOutWatchers.class.getName(),
                "127.0.0.1",
                Integer.toString(server.port()),
                Integer.toString(watchers),
                SERVICE,
                Integer.toString(watcherLoops))
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start();
    toChild = child.getOutputStream();
    Semaphore childReady = new Semaphore(0);
    Thread reader =
        new Thread(
            () -> {
              try (BufferedReader in =
                  new BufferedReader(
                      new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                  if (line.equals("D")) {
                    reachedAt = System.nanoTime();
                    seen.release();
                  } else if (line.equals("READY")) {
                    childReady.release();
                  } else {
                    childReplies.add(line);
                  }
                }
              } catch (IOException e) {
                System.err.println("The watchers' process's output failed: " + e);
              }
            },
            "fanout-watchers-reader");
    reader.setDaemon(true);
    reader.start();
    if (!childReady.tryAcquire(DEADLINE.multipliedBy(10).toMillis(), TimeUnit.MILLISECONDS)) {
      throw new IllegalStateException(
          "the watchers' process was not ready within " + DEADLINE.multipliedBy(10));
    }
  }

  private NameServerConnection connect() {
    return FanOutWatchers.openSession(NameServerConnection.builder("127.0.0.1", server.port()));
  }

  private static NameClientFrame.Builder request() {
    return NameClientFrame.newBuilder();
  }

  private static Instance instance(String url) {
    return Instance.newBuilder().setUrl(url).setAddress("127.0.0.1:9").setWeight(1).build();
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
    changedAt = System.nanoTime();
    CompletableFuture<Ack> ack = registrar.request(change, "change", DEADLINE).toFuture();
    if (!seen.tryAcquire(DEADLINE.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new IllegalStateException(
          "the " + watchers + " watchers did not all see the change within " + DEADLINE);
    }
    long total = reachedAt - changedAt;
    changes++;
    if (local != null) {
      local.record(total, reachedBefore);
    } else {
      toChild.write(("T " + total + "\n").getBytes(StandardCharsets.US_ASCII));
      toChild.flush();
    }
    ack.get(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Starts counting each thread's CPU time afresh at the start of an iteration. */
  @Setup(Level.Iteration)
  public void startIteration() throws Exception {
    cpu.reset();
    changes = 0;
    if (child != null) {
      // The watchers' process starts counting afresh too.
      takeChildStats();
    }
  }

  /**
   * Prints the time to each watcher over the iteration and the CPU time each group of threads spent
   * per change (the name server's writer and event loops; the watchers' event loops, in their
   * process or in this one), and starts counting afresh.
   */
  @TearDown(Level.Iteration)
  public void printPerWatcher() throws Exception {
    System.out.printf("%n%s", cpu.perChangeSinceLast(changes, "benchmark's process"));
    if (local != null) {
      String percentiles = local.takePercentiles();
      System.out.printf("%n%s%n", percentiles == null ? "no changes" : percentiles);
    } else {
      String[] stats = takeChildStats().split("\t", -1);
      System.out.printf("%n%s%n%s%n", stats[2], stats[1].isEmpty() ? "no changes" : stats[1]);
    }
  }

  private String takeChildStats() throws Exception {
    toChild.write("S\n".getBytes(StandardCharsets.US_ASCII));
    toChild.flush();
    String reply = childReplies.poll(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
    if (reply == null || !reply.startsWith("S\t")) {
      throw new IllegalStateException("the watchers' process did not answer: " + reply);
    }
    return reply;
  }

  /** Closes the watchers (ending their process), the registrar and the name server. */
  @TearDown(Level.Trial)
  public void tearDown() throws Exception {
    if (local != null) {
      local.close();
    }
    if (child != null) {
      toChild.close();
      if (!child.waitFor(DEADLINE.toMillis(), TimeUnit.MILLISECONDS)) {
        child.destroyForcibly();
      }
    }
    if (registrar != null) {
      registrar.dispose();
    }
    if (server != null) {
      server.closeNow(DEADLINE);
    }
  }
}

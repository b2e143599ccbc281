package io.skymesh.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.opentest4j.TestAbortedException;

/**
 * A real etcd cluster of one or three members for tests: each member is an {@code etcd} process on
 * free loopback ports with a temporary data directory, stopped by its process id and deleted on
 * {@link #close()} (and by a shutdown hook, should a test JVM end without closing it).
 *
 * <p>Blocking: every method waits for processes and answers on the calling thread, so call them
 * from a test thread, never from an event loop. {@code etcd} must be installed (Debian's {@code
 * etcd-server}); if it is not, {@link #start(int)} fails with a message that says how to install
 * it.
 *
 * <pre>{@code
 * try (EtcdCluster etcd = EtcdCluster.start(3)) {
 *   String endpoints = etcd.endpoints(); // "http://127.0.0.1:p1,http://127.0.0.1:p2,..."
 *   etcd.restart(1);
 * }
 * }</pre>
 */
public final class EtcdCluster implements AutoCloseable {

  private static final Duration READY_TIMEOUT = Duration.ofSeconds(30);
  private static final Duration STOP_TIMEOUT = Duration.ofSeconds(10);
  private static final int LOG_TAIL_LINES = 30;

  private final Path root;
  private final String executable;
  private final List<Member> members;
  private final String initialCluster;
  private final HttpClient http;
  private final Thread cleanup;
  private volatile boolean closed;

  private EtcdCluster(Path root, String executable, List<Member> members) {
    this.root = root;
    this.executable = executable;
    this.members = members;
    this.initialCluster =
        members.stream().map(m -> m.name + "=" + m.peerUrl()).collect(Collectors.joining(","));
    this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    this.cleanup = new Thread(this::destroyAll, "etcd-cluster-cleanup");
    Runtime.getRuntime().addShutdownHook(cleanup);
  }

  /**
   * Starts a cluster of {@code size} members on loopback and waits until every member's health
   * endpoint answers healthy.
   *
   * @param size 1 or 3
   * @return the running cluster; close it when done
   * @throws IllegalStateException if a member does not become healthy in time (the message quotes
   *     the member's log), or if {@code etcd} is not installed and the {@code CI} environment
   *     variable is set
   * @throws TestAbortedException if {@code etcd} is not installed outside CI: the calling test is
   *     skipped, with the reason on standard error
   */
  public static EtcdCluster start(int size) {
    if (size != 1 && size != 3) {
      throw new IllegalArgumentException("size: " + size + " (expected: 1 or 3)");
    }
    String executable = findEtcd();
    Path root;
    try {
      root = Files.createTempDirectory("skymesh-etcd-");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    List<Member> members = new ArrayList<>();
    List<Integer> ports = freePorts(2 * size);
    for (int i = 0; i < size; i++) {
      members.add(
          new Member("m" + i, root.resolve("m" + i), ports.get(2 * i), ports.get(2 * i + 1)));
    }
    EtcdCluster cluster = new EtcdCluster(root, executable, members);
    try {
      for (Member member : members) {
        cluster.launch(member);
      }
      for (Member member : members) {
        cluster.awaitHealthy(member);
      }
      return cluster;
    } catch (RuntimeException | Error e) {
      cluster.close();
      throw e;
    }
  }

  /**
   * The client URLs of every member, comma-separated, as {@code serve --etcd} takes them.
   *
   * @return for example {@code "http://127.0.0.1:40001,http://127.0.0.1:40003"}
   */
  public String endpoints() {
    return members.stream().map(Member::clientUrl).collect(Collectors.joining(","));
  }

  /**
   * The client URL of one member.
   *
   * @param member the member's index, from 0
   * @return for example {@code "http://127.0.0.1:40001"}
   */
  public String endpoint(int member) {
    return member(member).clientUrl();
  }

  /**
   * How many members the cluster has.
   *
   * @return 1 or 3
   */
  public int size() {
    return members.size();
  }

  /**
   * The process id of one member, or empty while it is stopped.
   *
   * @param member the member's index, from 0
   * @return the process id
   */
  public Optional<Long> pid(int member) {
    Process process = member(member).process;
    return process != null && process.isAlive() ? Optional.of(process.pid()) : Optional.empty();
  }

  /**
   * Stops one member gracefully (SIGTERM to its process id) and waits until it has exited. Its data
   * directory stays, so {@link #startMember(int)} brings it back with its data.
   *
   * @param member the member's index, from 0
   */
  public void stop(int member) {
    terminate(member(member), false);
  }

  /**
   * Kills one member (SIGKILL to its process id) and waits until it has exited; its data directory
   * stays.
   *
   * @param member the member's index, from 0
   */
  public void kill(int member) {
    terminate(member(member), true);
  }

  /**
   * Starts a stopped member again with its data directory and ports, and waits until it is healthy.
   *
   * @param member the member's index, from 0
   */
  public void startMember(int member) {
    Member m = member(member);
    if (m.process != null && m.process.isAlive()) {
      throw new IllegalStateException("etcd member " + member + " is running");
    }
    launch(m);
    awaitHealthy(m);
  }

  /**
   * Stops one member gracefully and starts it again, waiting until it is healthy.
   *
   * @param member the member's index, from 0
   */
  public void restart(int member) {
    stop(member);
    startMember(member);
  }

  /**
   * Whether one member answers healthy now (its {@code /health} endpoint).
   *
   * @param member the member's index, from 0
   * @return true if it answers {@code "health":"true"}
   */
  public boolean healthy(int member) {
    return healthy(member(member));
  }

  /**
   * Kills every member by process id, waits for them to exit and deletes the data directories.
   * Idempotent.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    destroyAll();
    try {
      Runtime.getRuntime().removeShutdownHook(cleanup);
    } catch (IllegalStateException shuttingDown) {
      // The hook is running or about to: it does the same work.
    }
  }

  private void destroyAll() {
    for (Member member : members) {
      try {
        terminate(member, true);
      } catch (RuntimeException e) {
        System.err.println("etcd member " + member.name + ": " + e);
      }
    }
    deleteRecursively(root);
  }

  private Member member(int index) {
    Objects.checkIndex(index, members.size());
    return members.get(index);
  }

  private void launch(Member member) {
    if (closed) {
      throw new IllegalStateException("etcd cluster closed");
    }
    List<String> command =
        List.of(
            executable,
            "--name",
            member.name,
            "--data-dir",
            member.dataDir.toString(),
            "--listen-client-urls",
            member.clientUrl(),
            "--advertise-client-urls",
            member.clientUrl(),
            "--listen-peer-urls",
            member.peerUrl(),
            "--initial-advertise-peer-urls",
            member.peerUrl(),
            "--initial-cluster",
            initialCluster,
            "--initial-cluster-state",
            "new",
            "--initial-cluster-token",
            root.getFileName().toString(),
            // A shared 2-core machine stalls for hundreds of milliseconds: tolerate it rather than
            // re-elect the etcd leader on every hiccup.
            "--heartbeat-interval",
            "200",
            "--election-timeout",
            "3000",
            "--logger",
            "zap",
            "--log-outputs",
            "stderr");
    try {
      Files.createDirectories(root);
      member.process =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.appendTo(member.log().toFile()))
              .start();
    } catch (IOException e) {
      throw new IllegalStateException("could not start etcd member " + member.name, e);
    }
  }

  private void awaitHealthy(Member member) {
    long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
    while (!healthy(member)) {
      Process process = member.process;
      if (process == null || !process.isAlive()) {
        throw new IllegalStateException(
            "etcd member " + member.name + " exited before it was healthy" + logTail(member));
      }
      if (System.nanoTime() - deadline > 0) {
        throw new IllegalStateException(
            "etcd member "
                + member.name
                + " not healthy at "
                + member.clientUrl()
                + "/health within "
                + READY_TIMEOUT
                + logTail(member));
      }
      try {
        // Polling a process that reports readiness only through its health endpoint.
        process.waitFor(50, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting for etcd", e);
      }
    }
  }

  private boolean healthy(Member member) {
    Process process = member.process;
    if (process == null || !process.isAlive()) {
      return false;
    }
    try {
      HttpResponse<String> response =
          http.send(
              HttpRequest.newBuilder(URI.create(member.clientUrl() + "/health"))
                  .timeout(Duration.ofSeconds(2))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      return response.statusCode() == 200
          && response.body().replace(" ", "").contains("\"health\":\"true\"");
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private static void terminate(Member member, boolean force) {
    Process process = member.process;
    if (process == null) {
      return;
    }
    Optional<ProcessHandle> handle = ProcessHandle.of(process.pid());
    handle.ifPresent(h -> signal(h, force));
    try {
      if (!process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
        handle.ifPresent(ProcessHandle::destroyForcibly);
        if (!process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
          throw new IllegalStateException(
              "etcd member " + member.name + " (pid " + process.pid() + ") did not exit");
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while stopping etcd", e);
    }
    member.process = null;
  }

  private static void signal(ProcessHandle handle, boolean force) {
    if (force) {
      handle.destroyForcibly();
    } else {
      handle.destroy();
    }
  }

  private static String logTail(Member member) {
    try {
      List<String> lines = Files.readAllLines(member.log(), StandardCharsets.UTF_8);
      return "\n--- last lines of "
          + member.log()
          + " ---\n"
          + String.join(
              "\n", lines.subList(Math.max(0, lines.size() - LOG_TAIL_LINES), lines.size()));
    } catch (IOException e) {
      return " (no log: " + e + ")";
    }
  }

  private static String findEtcd() {
    String override = System.getProperty("skymesh.etcd");
    if (override != null && Files.isExecutable(Paths.get(override))) {
      return override;
    }
    String path = Objects.requireNonNullElse(System.getenv("PATH"), "");
    for (String dir : (path + ":/usr/bin:/usr/local/bin").split(":")) {
      if (!dir.isEmpty() && Files.isExecutable(Paths.get(dir, "etcd"))) {
        return Paths.get(dir, "etcd").toString();
      }
    }
    String missing =
        "etcd is not installed (not on PATH, nor set by -Dskymesh.etcd): these tests need a real"
            + " etcd. On Debian: apt-get update && apt-get install -y etcd-server (.ci/run does"
            + " this)";
    if (System.getenv("CI") != null) {
      throw new IllegalStateException(missing);
    }
    // On a developer's machine with only Java and Maven the etcd tests are skipped, loudly
    // (surefire counts them as skipped); CI installs etcd and fails without it.
    System.err.println("SKIPPED: " + missing);
    throw new TestAbortedException(missing);
  }

  private static List<Integer> freePorts(int count) {
    // Held open together so that the same port is not handed out twice.
    List<ServerSocket> sockets = new ArrayList<>();
    try {
      for (int i = 0; i < count; i++) {
        sockets.add(new ServerSocket(0, 1, InetAddress.getLoopbackAddress()));
      }
      return sockets.stream().map(ServerSocket::getLocalPort).collect(Collectors.toList());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      for (ServerSocket socket : sockets) {
        try {
          socket.close();
        } catch (IOException ignored) {
          // Only a probe.
        }
      }
    }
  }

  private static void deleteRecursively(Path dir) {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      System.err.println("could not delete " + dir + ": " + e);
    }
  }

  private static final class Member {
    final String name;
    final Path dataDir;
    final int clientPort;
    final int peerPort;
    volatile Process process;

    Member(String name, Path dataDir, int clientPort, int peerPort) {
      this.name = name;
      this.dataDir = dataDir;
      this.clientPort = clientPort;
      this.peerPort = peerPort;
    }

    String clientUrl() {
      return "http://127.0.0.1:" + clientPort;
    }

    String peerUrl() {
      return "http://127.0.0.1:" + peerPort;
    }

    Path log() {
      return dataDir.resolveSibling(name + ".log");
    }
  }
}

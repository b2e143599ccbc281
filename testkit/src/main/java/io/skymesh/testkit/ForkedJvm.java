package io.skymesh.testkit;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A main class running in a JVM of its own, for tests that need a real process: killed for real
 * ({@code kill -9}), paused and resumed ({@code SIGSTOP} / {@code SIGCONT}), restarted.
 *
 * <pre>{@code
 * try (ForkedJvm server =
 *     ForkedJvm.builder("io.skymesh.nameserver.cli.NameServerCli")
 *         .args("serve", "--port", "0", "--data-dir", dir.toString())
 *         .readyWhen(Pattern.compile("listening on .*:(\\d+)"))
 *         .start()) {
 *   int port = Integer.parseInt(server.ready().group(1));
 *   ...
 *   server.kill();
 * }
 * }</pre>
 *
 * <p>The child runs with this JVM's {@code java}, its class path and the given arguments; its
 * standard error is merged into its output, which a daemon thread reads line by line (see {@link
 * #output()}). {@link Builder#start()} blocks the calling thread (a test's, never an event loop)
 * until a line matches the readiness pattern, the child exits, or the deadline passes; in the last
 * two cases the child is killed and the failure quotes its output. Every child is killed by {@link
 * #close()} and, should a test forget, when this JVM exits.
 */
public final class ForkedJvm implements AutoCloseable {

  private static final Set<Process> LIVE = ConcurrentHashMap.newKeySet();

  static {
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(() -> LIVE.forEach(Process::destroyForcibly), "skymesh-forked-jvm-reaper"));
  }

  private final Process process;
  private final List<String> output = new CopyOnWriteArrayList<>();
  private final CompletableFuture<Matcher> ready = new CompletableFuture<>();
  private final Pattern readiness;
  private final String name;

  private ForkedJvm(Process process, Pattern readiness, String name) {
    this.process = process;
    this.readiness = readiness;
    this.name = name;
  }

  /**
   * Starts configuring a child JVM that runs {@code mainClass}.
   *
   * @param mainClass the fully qualified name of a class with a {@code main} on this class path
   * @return a builder
   */
  public static Builder builder(String mainClass) {
    return new Builder(Objects.requireNonNull(mainClass, "mainClass"));
  }

  /**
   * The match of the readiness line, whose groups tests read (a port, for example).
   *
   * @return the match
   */
  public Matcher ready() {
    return ready.getNow(null);
  }

  /**
   * The child's process id.
   *
   * @return the pid
   */
  public long pid() {
    return process.pid();
  }

  /**
   * Whether the child is still running.
   *
   * @return true until it exits
   */
  public boolean isAlive() {
    return process.isAlive();
  }

  /**
   * Every line the child has written so far (standard output and error, merged).
   *
   * @return a snapshot of the lines
   */
  public List<String> output() {
    return List.copyOf(output);
  }

  /**
   * Kills the child at once, without letting it run shutdown hooks ({@code SIGKILL}, as {@code kill
   * -9}), and waits for it to be gone.
   *
   * @return the exit status (137 on Linux)
   */
  public int kill() {
    process.destroyForcibly();
    return awaitExit(Duration.ofSeconds(30));
  }

  /** Pauses the child ({@code kill -STOP pid}): it keeps its sockets but runs no code. */
  public void pause() {
    signal("STOP");
  }

  /** Resumes a paused child ({@code kill -CONT pid}). */
  public void resume() {
    signal("CONT");
  }

  /**
   * Waits for the child to exit on its own.
   *
   * @param deadline how long to wait
   * @return the exit status
   * @throws AssertionError if it is still running after {@code deadline}, quoting its output
   */
  public int awaitExit(Duration deadline) {
    try {
      if (!process.waitFor(deadline.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new AssertionError(this + " still runs after " + deadline + describeOutput());
      }
      LIVE.remove(process);
      return process.exitValue();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted waiting for " + this, e);
    }
  }

  /** Kills the child if it still runs ({@code SIGKILL}) and waits for it to be gone. */
  @Override
  public void close() {
    if (process.isAlive()) {
      // A paused child does not die of SIGKILL any slower, but make sure it is not left stopped.
      process.destroyForcibly();
    }
    awaitExit(Duration.ofSeconds(30));
  }

  @Override
  public String toString() {
    return "forked JVM " + name + " (pid " + process.pid() + ")";
  }

  private void signal(String signal) {
    try {
      Process kill =
          new ProcessBuilder("kill", "-" + signal, Long.toString(process.pid()))
              .redirectErrorStream(true)
              .start();
      String said = new String(kill.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
        throw new AssertionError("kill -" + signal + " " + process.pid() + " failed: " + said);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("kill -" + signal + " " + process.pid(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted sending " + signal + " to " + this, e);
    }
  }

  private void readOutput() {
    try (BufferedReader lines =
        new BufferedReader(
            new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = lines.readLine()) != null) {
        output.add(line);
        if (!ready.isDone()) {
          Matcher matcher = readiness.matcher(line);
          if (matcher.find()) {
            ready.complete(matcher);
          }
        }
      }
    } catch (IOException e) {
      output.add("[ForkedJvm: reading the output failed: " + e + "]");
    }
    ready.completeExceptionally(
        new AssertionError(this + " exited before it was ready" + describeOutput()));
  }

  private String describeOutput() {
    List<String> lines = output();
    int from = Math.max(0, lines.size() - 60);
    return "; its output"
        + (from > 0 ? " (last 60 lines)" : "")
        + ":\n  "
        + String.join("\n  ", lines.subList(from, lines.size()));
  }

  /** Configures a child JVM; {@link #start()} runs it. */
  public static final class Builder {
    private final String mainClass;
    private final List<String> args = new ArrayList<>();
    private final List<String> jvmArgs = new ArrayList<>();
    private Pattern readiness = Pattern.compile(".");
    private Duration deadline = Duration.ofSeconds(30);
    private Path directory;

    private Builder(String mainClass) {
      this.mainClass = mainClass;
    }

    /**
     * Adds arguments for the main class.
     *
     * @param args the arguments
     * @return this builder
     */
    public Builder args(String... args) {
      this.args.addAll(List.of(args));
      return this;
    }

    /**
     * Adds JVM options, such as {@code -Xmx256m} or {@code -Dkey=value}.
     *
     * @param jvmArgs the options
     * @return this builder
     */
    public Builder jvmArgs(String... jvmArgs) {
      this.jvmArgs.addAll(List.of(jvmArgs));
      return this;
    }

    /**
     * The line that says the child is ready (searched with {@link Matcher#find()}). Default: any
     * line.
     *
     * @param readiness the pattern
     * @return this builder
     */
    public Builder readyWhen(Pattern readiness) {
      this.readiness = Objects.requireNonNull(readiness, "readiness");
      return this;
    }

    /**
     * How long {@link #start()} waits for the readiness line. Default 30 seconds.
     *
     * @param deadline the deadline
     * @return this builder
     */
    public Builder deadline(Duration deadline) {
      this.deadline = Objects.requireNonNull(deadline, "deadline");
      return this;
    }

    /**
     * The child's working directory. Default: this JVM's.
     *
     * @param directory the directory
     * @return this builder
     */
    public Builder directory(Path directory) {
      this.directory = Objects.requireNonNull(directory, "directory");
      return this;
    }

    /**
     * Starts the child and waits for its readiness line. Blocking.
     *
     * @return the running child
     * @throws AssertionError if it exits first or the deadline passes (it is killed), quoting its
     *     output
     */
    public ForkedJvm start() {
      List<String> command = new ArrayList<>();
      command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
      command.addAll(jvmArgs);
      command.add("-cp");
      command.add(System.getProperty("java.class.path"));
      command.add(mainClass);
      command.addAll(args);
      ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
      if (directory != null) {
        builder.directory(directory.toFile());
      }
      Process process;
      try {
        process = builder.start();
      } catch (IOException e) {
        throw new UncheckedIOException("starting " + mainClass, e);
      }
      LIVE.add(process);
      String simpleName = mainClass.substring(mainClass.lastIndexOf('.') + 1);
      ForkedJvm jvm = new ForkedJvm(process, readiness, simpleName);
      Thread reader = new Thread(jvm::readOutput, "skymesh-forked-jvm-output-" + process.pid());
      reader.setDaemon(true);
      reader.start();
      try {
        jvm.ready.get(deadline.toMillis(), TimeUnit.MILLISECONDS);
        return jvm;
      } catch (TimeoutException e) {
        jvm.close();
        throw new AssertionError(
            jvm
                + " printed no line matching /"
                + readiness
                + "/ within "
                + deadline
                + jvm.describeOutput());
      } catch (ExecutionException e) {
        jvm.close();
        throw (AssertionError) e.getCause();
      } catch (InterruptedException e) {
        jvm.close();
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted starting " + jvm, e);
      }
    }
  }
}

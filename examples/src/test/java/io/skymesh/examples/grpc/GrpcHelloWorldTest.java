package io.skymesh.examples.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.grpc.ManagedChannel;
import io.skymesh.grpc.GrpcRegistration;
import io.skymesh.grpc.SkymeshAttributes;
import io.skymesh.mesh.Mesh;
import io.skymesh.nameserver.NameServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The example's own servers, channel and calls, through a real name server over loopback. */
class GrpcHelloWorldTest {

  private static final Duration DEADLINE = Duration.ofSeconds(30);

  private NameServer nameServer;
  private Mesh servers;
  private Mesh client;
  private final List<GrpcRegistration> registrations = new ArrayList<>();
  private ManagedChannel channel;

  @BeforeEach
  void start() {
    nameServer = NameServer.builder().port(0).start().block(DEADLINE);
    servers = mesh();
    client = mesh();
  }

  @AfterEach
  void stop() throws InterruptedException {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    for (GrpcRegistration registration : registrations) {
      registration.server().shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    client.close().block(DEADLINE);
    servers.close().block(DEADLINE);
    nameServer.closeNow(DEADLINE);
  }

  @Test
  void callsFollowMembershipWithoutAFailedCall() throws InterruptedException {
    GrpcRegistration one = register("1");
    register("2");
    channel = GrpcHelloWorld.channel(client);

    try (Calls calls = new Calls(channel)) {
      // Calls reach both servers.
      await()
          .atMost(DEADLINE)
          .until(() -> calls.count("server-1") >= 20 && calls.count("server-2") >= 20);

      // One server deregisters (and keeps running): within a second the channel stops picking it.
      one.deregister().block(DEADLINE);
      await()
          .atMost(Duration.ofSeconds(1))
          .until(() -> calls.last(10).size() == 10 && !calls.last(10).contains("server-1"));
      int servedByOne = calls.count("server-1");
      int total = calls.total();
      await().atMost(DEADLINE).until(() -> calls.total() >= total + 200);
      assertThat(calls.count("server-1")).isEqualTo(servedByOne);

      // A server that joins later starts receiving calls.
      register("3");
      await().atMost(DEADLINE).until(() -> calls.count("server-3") >= 20);

      assertThat(calls.failures()).isEmpty();
    }
  }

  @Test
  void addressesComeFromTheMeshNotFromDns() {
    GrpcRegistration one = register("1");
    channel = GrpcHelloWorld.channel(client);

    assertThat(GrpcHelloWorld.TARGET).isEqualTo("skymesh:///hello.local.grpc-greeter");
    assertThat(channel.authority()).isEqualTo("hello.local.grpc-greeter");
    assertThat(one.address()).matches("127\\.0\\.0\\.1:\\d+");
    assertThat(servers.router(GrpcHelloWorld.GREETER).firstView().block(DEADLINE).instances())
        .singleElement()
        .satisfies(
            i ->
                assertThat(i.attributes())
                    .containsEntry(SkymeshAttributes.GRPC_ADDRESS, one.address()));
    assertThat(GrpcHelloWorld.greet(channel, "mesh").getMessage()).isEqualTo("Hello, mesh!");
  }

  @Test
  void demoAnswersEveryCall() {
    List<String> lines = GrpcHelloWorld.runDemo(6);

    assertThat(lines)
        .hasSize(6)
        .allMatch(line -> line.matches("Hello, world! \\(answered by server-[12]\\)"));
  }

  @Test
  void mainRunsTheDemo() {
    GrpcHelloWorld.main(new String[] {"demo", "2"});
  }

  private GrpcRegistration register(String id) {
    GrpcRegistration registration =
        GrpcGreeter.start(servers, GrpcHelloWorld.GREETER.instance(id)).block(DEADLINE);
    registrations.add(registration);
    return registration;
  }

  private Mesh mesh() {
    return Mesh.builder("hello")
        .nameServer("127.0.0.1:" + nameServer.port())
        .start()
        .block(DEADLINE);
  }

  /** Calls the greeter continuously on a thread of its own, counting who answered. */
  private static final class Calls implements AutoCloseable {
    private final ManagedChannel channel;
    private final Map<String, AtomicInteger> counts = new ConcurrentHashMap<>();
    private final ConcurrentLinkedDeque<String> recent = new ConcurrentLinkedDeque<>();
    private final List<Throwable> failures = new CopyOnWriteArrayList<>();
    private final AtomicInteger total = new AtomicInteger();
    private final Thread thread;
    private volatile boolean running = true;

    Calls(ManagedChannel channel) {
      this.channel = channel;
      this.thread = new Thread(this::run, "grpc-calls");
      thread.setDaemon(true);
      thread.start();
    }

    private void run() {
      while (running) {
        try {
          String server = GrpcHelloWorld.greet(channel, "test").getServer();
          counts.computeIfAbsent(server, s -> new AtomicInteger()).incrementAndGet();
          recent.addLast(server);
          if (recent.size() > 50) {
            recent.pollFirst();
          }
          total.incrementAndGet();
        } catch (RuntimeException e) {
          failures.add(e);
        }
      }
    }

    int count(String server) {
      AtomicInteger count = counts.get(server);
      return count == null ? 0 : count.get();
    }

    int total() {
      return total.get();
    }

    List<String> last(int n) {
      List<String> all = List.copyOf(recent);
      return all.subList(Math.max(0, all.size() - n), all.size());
    }

    List<Throwable> failures() {
      return failures;
    }

    @Override
    public void close() throws InterruptedException {
      running = false;
      thread.join(10_000);
    }
  }
}

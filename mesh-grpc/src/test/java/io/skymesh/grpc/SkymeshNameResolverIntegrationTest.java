package io.skymesh.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.NameResolverRegistry;
import io.grpc.Server;
import io.skymesh.core.ServiceName;
import io.skymesh.mesh.Mesh;
import io.skymesh.nameserver.NameServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Real gRPC servers and channels over loopback, resolved through a real name server: addresses come
 * only from the mesh's membership stream (IP literals, no DNS, no polling).
 */
class SkymeshNameResolverIntegrationTest {

  private static final Duration DEADLINE = Duration.ofSeconds(30);
  private static final ServiceName GREETER = ServiceName.parse("game.zone1.greeter");
  private static final String TARGET = "skymesh:///game.zone1.greeter";

  private NameServer nameServer;
  private Mesh serverMesh;
  private Mesh clientMesh;
  private final List<Server> servers = new ArrayList<>();
  private final List<ManagedChannel> channels = new ArrayList<>();

  @BeforeEach
  void start() {
    nameServer = NameServer.builder().port(0).start().block(DEADLINE);
    serverMesh = mesh();
    clientMesh = mesh();
  }

  @AfterEach
  void stop() throws InterruptedException {
    for (ManagedChannel channel : channels) {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    for (Server server : servers) {
      server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    clientMesh.close().block(DEADLINE);
    serverMesh.close().block(DEADLINE);
    nameServer.closeNow(DEADLINE);
  }

  @Test
  void roundRobinReachesEveryRegisteredServer() throws InterruptedException {
    register("a", 1);
    register("b", 2);
    ManagedChannel channel = channel("round_robin");

    try (CallLoop calls = new CallLoop(channel)) {
      await().atMost(DEADLINE).until(() -> calls.count("a") >= 20 && calls.count("b") >= 20);
      assertThat(calls.failures()).isEmpty();
    }
  }

  @Test
  void deregisteredServerStopsReceivingWithinASecondAndNoCallFails() throws InterruptedException {
    GrpcRegistration a = register("a", 1);
    register("b", 2);
    ManagedChannel channel = channel("round_robin");

    try (CallLoop calls = new CallLoop(channel)) {
      await().atMost(DEADLINE).until(() -> calls.count("a") >= 20 && calls.count("b") >= 20);

      a.deregister().block(DEADLINE);
      // The server stays up: it is the channel that must stop picking it, within a second.
      await()
          .atMost(Duration.ofSeconds(1))
          .until(() -> calls.last(10).size() == 10 && !calls.last(10).contains("a"));
      int servedByA = calls.count("a");
      int total = calls.total();
      await().atMost(DEADLINE).until(() -> calls.total() >= total + 200);

      assertThat(calls.count("a")).isEqualTo(servedByA);
      assertThat(calls.failures()).isEmpty();
    }
  }

  @Test
  void serverJoiningLaterStartsReceivingCalls() throws InterruptedException {
    register("a", 1);
    register("b", 2);
    ManagedChannel channel = channel("round_robin");

    try (CallLoop calls = new CallLoop(channel)) {
      await().atMost(DEADLINE).until(() -> calls.count("b") >= 20);
      assertThat(calls.count("c")).isZero();

      register("c", 3);

      await().atMost(DEADLINE).until(() -> calls.count("c") >= 20);
      assertThat(calls.failures()).isEmpty();
    }
  }

  @Test
  void shutdownLeavesTheMeshBeforeStoppingTheServerSoNoCallFails() throws InterruptedException {
    GrpcRegistration a = register("a", 1);
    register("b", 2);
    ManagedChannel channel = channel("round_robin");

    try (CallLoop calls = new CallLoop(channel)) {
      await().atMost(DEADLINE).until(() -> calls.count("a") >= 20 && calls.count("b") >= 20);

      a.shutdown(Duration.ofMillis(500)).block(DEADLINE);
      assertThat(a.server().awaitTermination(10, TimeUnit.SECONDS)).isTrue();
      int total = calls.total();
      await().atMost(DEADLINE).until(() -> calls.total() >= total + 100);

      assertThat(calls.failures()).isEmpty();
      assertThat(calls.recent()).containsOnly("b");
    }
  }

  @Test
  void pickFirstSticksToOneServerAndMovesWhenItLeaves() throws InterruptedException {
    GrpcRegistration a = register("a", 1);
    GrpcRegistration b = register("b", 2);
    ManagedChannel channel = channel("pick_first");

    try (CallLoop calls = new CallLoop(channel)) {
      await().atMost(DEADLINE).until(() -> calls.total() >= 50);
      assertThat(calls.recent()).hasSize(50).containsOnly(calls.recent().get(0));
      String first = calls.recent().get(0);
      GrpcRegistration picked = first.equals("a") ? a : b;
      String other = first.equals("a") ? "b" : "a";

      picked.deregister().block(DEADLINE);

      await().atMost(DEADLINE).until(() -> calls.count(other) >= 20);
      assertThat(calls.failures()).isEmpty();
    }
  }

  @Test
  void aProviderRegisteredWithAMeshResolvesWithoutAChannelArgument() throws InterruptedException {
    register("a", 1);
    NameResolverRegistry registry = NameResolverRegistry.getDefaultRegistry();
    SkymeshNameResolverProvider provider = new SkymeshNameResolverProvider(clientMesh);
    registry.register(provider);
    try {
      ManagedChannel channel =
          Grpc.newChannelBuilder(TARGET, InsecureChannelCredentials.create()).build();
      channels.add(channel);

      assertThat(TestGreeter.call(channel)).isEqualTo("a");
    } finally {
      registry.deregister(provider);
    }
  }

  @Test
  void serviceLoaderRegistersTheSchemeBelowDns() {
    NameResolverRegistry registry = NameResolverRegistry.getDefaultRegistry();

    assertThat(registry.getProviderForScheme("skymesh"))
        .isInstanceOf(SkymeshNameResolverProvider.class);
    assertThat(registry.getDefaultScheme()).isEqualTo("dns");
  }

  private GrpcRegistration register(String name, int instance) {
    Server server = TestGreeter.start(name);
    servers.add(server);
    return GrpcRegistration.register(serverMesh, server, GREETER.instance(String.valueOf(instance)))
        .block(DEADLINE);
  }

  private ManagedChannel channel(String policy) {
    ManagedChannel channel =
        Grpc.newChannelBuilder(TARGET, InsecureChannelCredentials.create())
            .setNameResolverArg(SkymeshNameResolverProvider.MESH, clientMesh)
            .defaultLoadBalancingPolicy(policy)
            .build();
    channels.add(channel);
    return channel;
  }

  private Mesh mesh() {
    return Mesh.builder("game")
        .nameServer("127.0.0.1:" + nameServer.port())
        .start()
        .block(DEADLINE);
  }
}

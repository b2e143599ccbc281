package io.skymesh.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.awaitility.Awaitility.await;

import io.grpc.EquivalentAddressGroup;
import io.grpc.NameResolver;
import io.grpc.Status;
import io.grpc.StatusOr;
import io.grpc.SynchronizationContext;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.ServiceOptions;
import io.skymesh.nameserver.NameServer;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;

/** The resolver against a real name server, with a recording listener in place of a channel. */
class SkymeshNameResolverTest {

  private static final Duration DEADLINE = Duration.ofSeconds(30);

  private NameServer nameServer;
  private Mesh mesh;
  private final ExecutorService offload = Executors.newCachedThreadPool();
  private final SynchronizationContext syncContext =
      new SynchronizationContext((thread, error) -> {});
  private final List<StatusOr<List<EquivalentAddressGroup>>> results = new CopyOnWriteArrayList<>();
  private final List<Status> errors = new CopyOnWriteArrayList<>();

  @BeforeEach
  void start() {
    nameServer = NameServer.builder().port(0).start().block(DEADLINE);
    mesh =
        Mesh.builder("game").nameServer("127.0.0.1:" + nameServer.port()).start().block(DEADLINE);
  }

  @AfterEach
  void stop() {
    offload.shutdownNow();
    mesh.close().block(DEADLINE);
    nameServer.closeNow(DEADLINE);
  }

  @Test
  void instancesWithAGrpcAddressBecomeAddressGroupsCarryingTheirAttributes() {
    register("game.zone1.greeter/1", Map.of("grpc.address", "127.0.0.1:7001", "zone", "a"), 3);
    register("game.zone1.greeter/2", Map.of("zone", "b"), 1);
    NameResolver resolver = start("skymesh:///game.zone1.greeter");

    await().atMost(DEADLINE).until(() -> !results.isEmpty());
    List<EquivalentAddressGroup> groups = results.get(results.size() - 1).getValue();
    assertThat(groups).hasSize(1);
    EquivalentAddressGroup group = groups.get(0);
    assertThat(group.getAddresses()).containsExactly(new InetSocketAddress("127.0.0.1", 7001));
    assertThat(group.getAttributes().get(SkymeshAttributes.SERVICE_URL))
        .isEqualTo(ServiceUrl.parse("game.zone1.greeter/1"));
    assertThat(group.getAttributes().get(SkymeshAttributes.INSTANCE_ATTRIBUTES))
        .containsEntry("zone", "a");
    assertThat(group.getAttributes().get(SkymeshAttributes.WEIGHT)).isEqualTo(3);
    assertThat(group.getAttributes().get(SkymeshAttributes.PROCESS_ID)).isEqualTo(mesh.processId());
    resolver.shutdown();
  }

  @Test
  void joinsAndLeavesArePushedAsFullAddressLists() {
    NameResolver resolver = start("skymesh:///game.zone1.greeter");
    MeshService one = register("game.zone1.greeter/1", Map.of("grpc.address", "127.0.0.1:7001"), 1);

    await().atMost(DEADLINE).until(() -> ports().equals(List.of(7001)));
    MeshService two = register("game.zone1.greeter/2", Map.of("grpc.address", "[::1]:7002"), 1);
    await().atMost(DEADLINE).until(() -> ports().equals(List.of(7001, 7002)));
    one.close().block(DEADLINE);
    await().atMost(DEADLINE).until(() -> ports().equals(List.of(7002)));
    two.close().block(DEADLINE);

    await()
        .atMost(DEADLINE)
        .until(() -> !results.isEmpty() && !results.get(results.size() - 1).hasValue());
    assertThat(results.get(results.size() - 1).getStatus().getDescription())
        .contains("no live instance of game.zone1.greeter has a grpc.address");
    assertThat(errors).isEmpty();
    resolver.shutdown();
  }

  @Test
  void attributeUpdatesReachTheLoadBalancerAsAddressAttributes() {
    NameResolver resolver = start("skymesh:///game.zone1.greeter");
    MeshService one =
        register("game.zone1.greeter/1", Map.of("grpc.address", "127.0.0.1:7001", "zone", "a"), 1);
    await().atMost(DEADLINE).until(() -> zoneOfLast().equals("a"));

    one.updateAttributes(Map.of("zone", "b")).block(DEADLINE);

    await().atMost(DEADLINE).until(() -> zoneOfLast().equals("b"));
    assertThat(ports()).containsExactly(7001);
    resolver.shutdown();
  }

  private String zoneOfLast() {
    if (results.isEmpty() || !results.get(results.size() - 1).hasValue()) {
      return "";
    }
    List<EquivalentAddressGroup> groups = results.get(results.size() - 1).getValue();
    return groups.isEmpty()
        ? ""
        : groups
            .get(0)
            .getAttributes()
            .get(SkymeshAttributes.INSTANCE_ATTRIBUTES)
            .getOrDefault("zone", "");
  }

  @Test
  void nothingIsDeliveredAfterShutdown() {
    NameResolver resolver = start("skymesh:///game.zone1.greeter");
    register("game.zone1.greeter/1", Map.of("grpc.address", "127.0.0.1:7001"), 1);
    await().atMost(DEADLINE).until(() -> ports().equals(List.of(7001)));
    syncContext.execute(resolver::shutdown);
    List<StatusOr<List<EquivalentAddressGroup>>> before = List.copyOf(results);

    // A second resolver on the same service sees the change, so the first had its chance too.
    List<StatusOr<List<EquivalentAddressGroup>>> witnessed = new CopyOnWriteArrayList<>();
    NameResolver witness = start("skymesh:///game.zone1.greeter", witnessed);
    MeshService two = register("game.zone1.greeter/2", Map.of("grpc.address", "127.0.0.1:7002"), 1);
    await()
        .atMost(DEADLINE)
        .until(() -> witnessed.stream().anyMatch(r -> r.hasValue() && r.getValue().size() == 2));

    assertThat(results).isEqualTo(before);
    two.close().block(DEADLINE);
    syncContext.execute(witness::shutdown);
  }

  @Test
  void badTargetsAreRefusedByName() {
    SkymeshNameResolverProvider provider = new SkymeshNameResolverProvider(mesh);

    assertThat(provider.newNameResolver(URI.create("dns:///localhost:1"), args(null))).isNull();
    assertThatIllegalArgumentException()
        .isThrownBy(
            () -> provider.newNameResolver(URI.create("skymesh://host/game.zone1.x"), args(null)))
        .withMessageContaining("expected: skymesh:///app.env.service");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> provider.newNameResolver(URI.create("skymesh:///game.zone1"), args(null)))
        .withMessageContaining("skymesh:///game.zone1");
    assertThatIllegalArgumentException()
        .isThrownBy(
            () ->
                new SkymeshNameResolverProvider()
                    .newNameResolver(URI.create("skymesh:///game.zone1.x"), args(null)))
        .withMessageContaining("SkymeshNameResolverProvider.MESH");
  }

  @Test
  void authorityIsTheServiceName() {
    NameResolver resolver =
        new SkymeshNameResolverProvider()
            .newNameResolver(URI.create("skymesh:///game.zone1.greeter"), args(mesh));

    assertThat(resolver.getServiceAuthority()).isEqualTo("game.zone1.greeter");
  }

  @Test
  void registeringAServerThatIsNotStartedFails() {
    io.grpc.Server server =
        io.grpc.Grpc.newServerBuilderForPort(0, io.grpc.InsecureServerCredentials.create()).build();

    reactor.test.StepVerifier.create(
            GrpcRegistration.register(mesh, server, ServiceUrl.parse("game.zone1.greeter/1")))
        .expectErrorSatisfies(
            e ->
                assertThat(e)
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("expected: a started server"))
        .verify(DEADLINE);
  }

  private List<Integer> ports() {
    if (results.isEmpty() || !results.get(results.size() - 1).hasValue()) {
      return List.of();
    }
    return results.get(results.size() - 1).getValue().stream()
        .map(group -> ((InetSocketAddress) group.getAddresses().get(0)).getPort())
        .sorted()
        .toList();
  }

  private MeshService register(String url, Map<String, String> attributes, int weight) {
    return mesh.register(
            ServiceUrl.parse(url), message -> Mono.empty(), new ServiceOptions(weight, attributes))
        .block(DEADLINE);
  }

  private NameResolver start(String target) {
    return start(target, results);
  }

  private NameResolver start(String target, List<StatusOr<List<EquivalentAddressGroup>>> results) {
    NameResolver resolver =
        new SkymeshNameResolverProvider().newNameResolver(URI.create(target), args(mesh));
    syncContext.execute(
        () ->
            resolver.start(
                new NameResolver.Listener2() {
                  @Override
                  public void onResult(NameResolver.ResolutionResult result) {
                    results.add(result.getAddressesOrError());
                  }

                  @Override
                  public void onError(Status error) {
                    errors.add(error);
                  }
                }));
    return resolver;
  }

  private NameResolver.Args args(Mesh withMesh) {
    NameResolver.Args.Builder builder =
        NameResolver.Args.newBuilder()
            .setDefaultPort(443)
            .setProxyDetector(address -> null)
            .setSynchronizationContext(syncContext)
            .setServiceConfigParser(
                new NameResolver.ServiceConfigParser() {
                  @Override
                  public NameResolver.ConfigOrError parseServiceConfig(Map<String, ?> config) {
                    return null;
                  }
                })
            .setOffloadExecutor(offload);
    if (withMesh != null) {
      builder.setArg(SkymeshNameResolverProvider.MESH, withMesh);
    }
    return builder.build();
  }
}

package io.skymesh.nameserver.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.lease.LeaseGrantResponse;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.WatchOption;
import io.etcd.jetcd.watch.WatchEvent;
import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.MembershipEvent;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.NameRouter;
import io.skymesh.mesh.ServiceOptions;
import io.skymesh.mesh.internal.DefaultMesh;
import io.skymesh.mesh.internal.naming.NameServerClient;
import io.skymesh.mesh.rpc.Methods;
import io.skymesh.mesh.rpc.Reply;
import io.skymesh.nameserver.cli.NameServerCli;
import io.skymesh.testkit.EtcdCluster;
import io.skymesh.testkit.ForkedJvm;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Meshes over three name-server nodes, each a JVM of its own ({@code serve --etcd}) over one real
 * etcd. While 20 instances churn through meshes on two nodes, the node the mesh under test is
 * connected to is killed ({@code kill -9}) or frozen ({@code SIGSTOP}): the mesh reaches another
 * node within one session TTL, its router reports exactly the instance changes etcd's own history
 * holds, in revision order, its instances never leave, and its requests to another mesh all
 * succeed.
 */
class MeshFailoverTest {

  private static final Logger log = LoggerFactory.getLogger(MeshFailoverTest.class);
  private static final Duration DEADLINE = Duration.ofSeconds(30);
  private static final Pattern LISTENING = Pattern.compile("Name server listening on \\S*:(\\d+)");
  private static final int INSTANCES = 20;

  private static EtcdCluster etcd;
  private static Client admin;

  /**
   * The session TTL: what etcd grants for 3 s, so at least its minimum lease TTL (1.5 election
   * timeouts, rounded up to whole seconds; 5 s with {@code EtcdCluster}'s settings).
   */
  private static Duration ttl;

  private final List<ForkedJvm> nodes = new ArrayList<>();
  private final List<Mesh> meshes = new ArrayList<>();
  private final List<Disposable> loops = new ArrayList<>();
  private final List<Watch.Watcher> watchers = new ArrayList<>();

  @BeforeAll
  static void startEtcd() {
    etcd = EtcdCluster.start(1);
    admin = Etcds.client(etcd.endpoints());
    LeaseGrantResponse probe = admin.getLeaseClient().grant(3).join();
    admin.getLeaseClient().revoke(probe.getID()).join();
    ttl = Duration.ofSeconds(probe.getTTL());
  }

  @AfterAll
  static void stopEtcd() {
    if (admin != null) {
      admin.close();
    }
    if (etcd != null) {
      etcd.close();
    }
  }

  @BeforeEach
  void startNodes() {
    // Started side by side: each takes seconds on a busy machine.
    List<CompletableFuture<ForkedJvm>> starting = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      starting.add(CompletableFuture.supplyAsync(this::node));
    }
    List<Throwable> failures = new ArrayList<>();
    for (CompletableFuture<ForkedJvm> node : starting) {
      try {
        nodes.add(node.join());
      } catch (RuntimeException e) {
        failures.add(e.getCause() == null ? e : e.getCause());
      }
    }
    if (!failures.isEmpty()) {
      AssertionError error = new AssertionError("a name-server node did not start");
      failures.forEach(error::addSuppressed);
      throw error;
    }
  }

  @AfterEach
  void stopEverything() {
    loops.forEach(Disposable::dispose);
    watchers.forEach(Watch.Watcher::close);
    try {
      // A node left frozen by a failed test would not answer a closing mesh.
      for (ForkedJvm node : nodes) {
        if (node.isAlive()) {
          node.resume();
        }
      }
      for (Mesh mesh : meshes) {
        // Deregistered for real: a dropped session would keep its instances for one TTL.
        mesh.closeGracefully(Duration.ofSeconds(5)).onErrorComplete().block(DEADLINE);
      }
    } finally {
      nodes.forEach(ForkedJvm::close);
    }
  }

  @Test
  void aMeshLeavesAKilledNodeWithinOneTtlAndMissesNothing() {
    run("killed", ForkedJvm::kill, node -> {});
  }

  /**
   * A frozen node stops renewing its sessions' leases: with jetcd's managed keepalive alone (a
   * renewal a third of the TTL after each, on a 500 ms tick) they lapsed 3.6 s to 5.1 s after
   * SIGSTOP at a 5 s TTL, before the client's worst-case detection (3/4 TTL) and resume. The store
   * renews them ten times per TTL and on each of the client's KeepAlives, so they outlive the
   * client's failover (README, "How long a stopped node's sessions live"). A lapsed lease removes
   * the mesh's instances, which this test catches.
   */
  @Test
  void aMeshLeavesAFrozenNodeWithinOneTtlAndMissesNothing() {
    run("frozen", ForkedJvm::pause, ForkedJvm::resume);
  }

  private void run(String what, Consumer<ForkedJvm> fail, Consumer<ForkedJvm> afterwards) {
    // Each test in an environment of its own: a previous test's leases may not have lapsed yet.
    String churn = "game." + what + ".churn";
    String stay = "game." + what + ".stay";
    String echoService = "game." + what + ".echo";
    Mesh mesh = mesh(port(0) + "," + port(1) + "," + port(2));
    NameServerClient client = ((DefaultMesh) mesh).nameServerClient();
    int victimPort = client.nameServer().getPort();
    List<Integer> others = new ArrayList<>();
    ForkedJvm victim = null;
    for (ForkedJvm node : nodes) {
      int port = Integer.parseInt(node.ready().group(1));
      if (port == victimPort) {
        victim = node;
      } else {
        others.add(port);
      }
    }
    assertThat(victim).as("the node the mesh is on").isNotNull();
    // Every other mesh is on a node that stays up, one node each.
    Mesh churnerA = mesh("127.0.0.1:" + others.get(0));
    Mesh churnerB = mesh("127.0.0.1:" + others.get(1));
    Mesh bystander = mesh("127.0.0.1:" + others.get(1));

    MeshService echo =
        register(
            churnerA,
            echoService + "/1",
            Methods.builder()
                .add("Echo", request -> Mono.just(Reply.of(request.payload())))
                .build());
    List<MeshService> own = List.of(register(mesh, stay + "/1"), register(mesh, stay + "/2"));
    Map<String, Long> created = createRevisions(stay);
    assertThat(created).containsOnlyKeys("1", "2");

    // What the mesh under test and a watcher on a surviving node see.
    NameRouter churnRouter = mesh.router(ServiceName.parse(churn));
    Queue<MembershipEvent> seen = new ConcurrentLinkedQueue<>();
    loops.add(churnRouter.members().subscribe(seen::add));
    // Its watch is in place before the churn starts, so it reports every change as it happens.
    assertThat(churnRouter.firstView().block(DEADLINE).instances()).isEmpty();
    Queue<MembershipEvent> stayEvents = new ConcurrentLinkedQueue<>();
    loops.add(bystander.router(ServiceName.parse(stay)).members().subscribe(stayEvents::add));
    await().atMost(DEADLINE).until(() -> stayEvents.size() == 2);
    // The mesh's own router of its own service, in place before the failover, watched through it.
    NameRouter ownRouter = mesh.router(ServiceName.parse(stay));
    Queue<MembershipEvent> ownEvents = new ConcurrentLinkedQueue<>();
    loops.add(ownRouter.members().subscribe(ownEvents::add));
    await().atMost(DEADLINE).until(() -> ownEvents.size() == 2);
    mesh.router(ServiceName.parse(echoService)).firstView().block(DEADLINE);
    long from = revisionNow();

    // etcd's own history of the churned instances, from before the churn.
    Queue<WatchEvent> history = new ConcurrentLinkedQueue<>();
    watchers.add(
        admin
            .getWatchClient()
            .watch(
                bytes("/skymesh/svc/" + churn + "/i/"),
                WatchOption.builder().isPrefix(true).withRevision(from + 1).build(),
                response -> history.addAll(response.getEvents())));

    // The churn: 20 instances, each registered and deregistered in a loop, half through each node.
    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong changes = new AtomicLong();
    Queue<Throwable> churnErrors = new ConcurrentLinkedQueue<>();
    List<Mono<Void>> churners = new ArrayList<>();
    for (int i = 0; i < INSTANCES; i++) {
      Mesh through = i % 2 == 0 ? churnerA : churnerB;
      ServiceUrl url = ServiceUrl.parse(churn + "/" + i);
      churners.add(
          Mono.defer(
                  () ->
                      through
                          .register(url, message -> Mono.empty())
                          .doOnNext(s -> changes.incrementAndGet())
                          .flatMap(s -> s.close())
                          .doOnSuccess(v -> changes.incrementAndGet()))
              .repeat(() -> !stop.get())
              .then());
    }
    CompletableFuture<Void> churned = new CompletableFuture<>();
    loops.add(
        Flux.merge(churners)
            .subscribe(
                null,
                e -> {
                  churnErrors.add(e);
                  churned.completeExceptionally(e);
                },
                () -> churned.complete(null)));

    // The requests: one after another from the mesh under test to the other mesh, all the while.
    AtomicLong answered = new AtomicLong();
    Queue<Throwable> requestErrors = new ConcurrentLinkedQueue<>();
    AtomicBoolean stopRequests = new AtomicBoolean();
    CompletableFuture<Void> requested = new CompletableFuture<>();
    MeshService requester = own.get(0);
    ByteString ping = ByteString.copyFromUtf8("ping");
    loops.add(
        Mono.defer(
                () ->
                    requester
                        .request(echo.url(), "Echo", ping)
                        .doOnNext(
                            reply -> {
                              if (reply.payload().equals(ping)) {
                                answered.incrementAndGet();
                              } else {
                                requestErrors.add(new AssertionError("wrong reply " + reply));
                              }
                            })
                        .onErrorResume(
                            e -> {
                              requestErrors.add(e);
                              return Mono.empty();
                            }))
            .repeat(() -> !stopRequests.get())
            .subscribe(null, requested::completeExceptionally, () -> requested.complete(null)));

    await().atMost(DEADLINE).until(() -> changes.get() >= 100 && answered.get() >= 20);
    long answeredBefore = answered.get();
    long changesBefore = changes.get();

    long failedAt = System.nanoTime();
    fail.accept(victim);
    await()
        .atMost(DEADLINE)
        .pollInterval(Duration.ofMillis(10))
        .until(() -> client.connected() && client.nameServer().getPort() != victimPort);
    Duration moved = Duration.ofNanos(System.nanoTime() - failedAt);
    log.info("The mesh left the {} node in {} (session TTL {})", what, moved, ttl);
    assertThat(moved).as("time to reach another node").isLessThan(ttl);

    // The churn and the requests go on past the failover, and past the frozen node's thaw.
    await()
        .atMost(DEADLINE)
        .until(() -> changes.get() >= changesBefore + 100 && answered.get() >= answeredBefore + 20);
    afterwards.accept(victim);
    long changesAfter = changes.get();
    await().atMost(DEADLINE).until(() -> changes.get() >= changesAfter + 40);
    stop.set(true);
    churned.orTimeout(DEADLINE.toSeconds(), TimeUnit.SECONDS).join();
    stopRequests.set(true);
    requested.orTimeout(DEADLINE.toSeconds(), TimeUnit.SECONDS).join();
    assertThat(churnErrors).isEmpty();

    // Every registration and deregistration is in etcd's history, and the router saw exactly that.
    long total = changes.get();
    await().atMost(DEADLINE).until(() -> history.size() >= total);
    List<String> expected = history.stream().map(MeshFailoverTest::describe).toList();
    assertThat(expected).hasSize((int) total);
    await().atMost(DEADLINE).until(() -> seen.size() >= total);
    assertThat(seen.stream().map(MeshFailoverTest::describe).toList())
        .as("the router's events against etcd's history")
        .containsExactlyElementsOf(expected);

    // The mesh's own instances never left: the same keys, never deleted, no REMOVED anywhere.
    assertThat(createRevisions(stay)).isEqualTo(created);
    assertThat(stayEvents)
        .extracting(e -> e.type() + " " + e.instance().url().instanceId())
        .containsExactlyInAnyOrder("ADDED 1", "ADDED 2");
    assertThat(ownEvents)
        .as("the mesh's own router of its own service, across the failover")
        .extracting(e -> e.type() + " " + e.instance().url().instanceId())
        .containsExactlyInAnyOrder("ADDED 1", "ADDED 2");
    assertThat(ownRouter.currentView().instances()).hasSize(2);

    // Every request was answered.
    assertThat(requestErrors).isEmpty();
    assertThat(answered.get()).isGreaterThan(answeredBefore);
    log.info(
        "{} instance changes and {} requests, {} of them after the node was {}",
        total,
        answered.get(),
        answered.get() - answeredBefore,
        what);
  }

  private ForkedJvm node() {
    return ForkedJvm.builder(NameServerCli.class.getName())
        .jvmArgs("-Xmx128m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")
        .args("serve", "--etcd", etcd.endpoints(), "--port", "0")
        .readyWhen(LISTENING)
        .deadline(Duration.ofSeconds(60))
        .start();
  }

  private String port(int node) {
    return "127.0.0.1:" + nodes.get(node).ready().group(1);
  }

  private Mesh mesh(String nameServers) {
    Mesh mesh =
        Mesh.builder("game")
            .nameServers(nameServers)
            .sessionTtl(ttl)
            .reconnectBackoff(Duration.ofMillis(50), Duration.ofMillis(500))
            .start()
            .block(DEADLINE);
    meshes.add(mesh);
    return mesh;
  }

  private static MeshService register(Mesh mesh, String url) {
    return mesh.register(ServiceUrl.parse(url), message -> Mono.empty()).block(DEADLINE);
  }

  private static MeshService register(Mesh mesh, String url, Methods methods) {
    return mesh.register(
            ServiceUrl.parse(url),
            message -> Mono.empty(),
            ServiceOptions.defaults().withMethods(methods))
        .block(DEADLINE);
  }

  private static long revisionNow() {
    return admin
        .getKVClient()
        .get(bytes("/skymesh/"), GetOption.builder().withCountOnly(true).build())
        .join()
        .getHeader()
        .getRevision();
  }

  /** Each instance of {@code service} in etcd now, with the revision its key was created at. */
  private static Map<String, Long> createRevisions(String service) {
    String prefix = "/skymesh/svc/" + service + "/i/";
    List<KeyValue> kvs =
        admin
            .getKVClient()
            .get(bytes(prefix), GetOption.builder().isPrefix(true).build())
            .join()
            .getKvs();
    Map<String, Long> revisions = new HashMap<>();
    for (KeyValue kv : kvs) {
      revisions.put(
          kv.getKey().toString(StandardCharsets.UTF_8).substring(prefix.length()),
          kv.getCreateRevision());
    }
    return revisions;
  }

  private static String describe(WatchEvent event) {
    KeyValue kv = event.getKeyValue();
    String key = kv.getKey().toString(StandardCharsets.UTF_8);
    String instance = key.substring(key.lastIndexOf('/') + 1);
    String type =
        switch (event.getEventType()) {
          case PUT -> kv.getCreateRevision() == kv.getModRevision() ? "ADDED" : "UPDATED";
          case DELETE -> "REMOVED";
          default -> "UNRECOGNIZED";
        };
    return type + " " + instance + " @" + kv.getModRevision();
  }

  private static String describe(MembershipEvent event) {
    return event.type() + " " + event.instance().url().instanceId() + " @" + event.revision();
  }

  private static ByteSequence bytes(String s) {
    return ByteSequence.from(s, StandardCharsets.UTF_8);
  }
}

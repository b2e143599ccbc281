package io.skymesh.benchmarks;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.options.WatchOption;
import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.MembershipEvent;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.NameRouter;
import io.skymesh.nameserver.NameServer;
import io.skymesh.nameserver.etcd.EtcdNameStoreProvider;
import io.skymesh.nameserver.spi.NameStore;
import io.skymesh.nameserver.spi.ServiceSelector;
import io.skymesh.nameserver.spi.StoreSession;
import io.skymesh.proto.Instance;
import io.skymesh.testkit.EtcdCluster;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;

/**
 * Register and watch fan-out: one operation registers an instance and waits until every one of
 * {@code watchers} watchers has seen it added, then deregisters it and waits until every watcher
 * has seen it removed. Three ways, in the same run:
 *
 * <ul>
 *   <li>{@code embedded}: the embedded name server over loopback TCP, a mesh registering and {@code
 *       watchers} meshes whose routers watch the service;
 *   <li>{@code etcdNodes}: the same meshes as {@code embedded}, each on a name-server node of its
 *       own, the nodes stateless over a one-member etcd on loopback ({@code serve --etcd}): the
 *       registering mesh on node 0, watcher {@code i} on node {@code i};
 *   <li>{@code etcdStore}: the etcd-backed store alone, without the protocol and TCP in front of
 *       it: a session on one store registers, {@code watchers} other stores watch the service;
 *   <li>{@code rawEtcd}: the same work with plain jetcd: a put and a delete, {@code watchers}
 *       clients watching the key's prefix. The floor the etcd store stands on.
 * </ul>
 *
 * <p>Needs {@code etcd} installed (Debian's {@code etcd-server}); the benchmark starts and stops
 * it; see benchmarks/README.md.
 *
 * <pre>{@code
 * java -jar benchmarks/target/benchmarks.jar NameServiceFanOut -f1 -wi 2 -i 5 -r 3s
 * }</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class NameServiceFanOutBenchmark {

  private static final Duration DEADLINE = Duration.ofSeconds(30);
  private static final String SERVICE = "bench.local.fanout";

  /** Where the name service keeps its state. */
  @Param({"embedded", "etcdNodes", "etcdStore", "rawEtcd"})
  public String backend;

  /** How many watchers see each change. */
  @Param({"1", "4"})
  public int watchers;

  private final Semaphore seen = new Semaphore(0);

  /** Released once per watcher when its watch is in place, so no change is made before. */
  private final Semaphore ready = new Semaphore(0);

  private final List<Disposable> watches = new ArrayList<>();
  private long next;

  private EtcdCluster etcd;
  private final List<NameServer> nameServers = new ArrayList<>();
  private final List<Mesh> meshes = new ArrayList<>();
  private Mesh registrar;
  private final List<NameStore> nodes = new ArrayList<>();
  private StoreSession session;
  private final List<Client> clients = new ArrayList<>();
  private final List<Watch.Watcher> rawWatchers = new ArrayList<>();

  /** Starts the backend and the watchers. */
  @Setup
  public void setUp() {
    switch (backend) {
      case "embedded" -> setUpMeshes(1);
      case "etcdNodes" -> setUpMeshes(watchers + 1);
      case "etcdStore" -> setUpEtcdStore();
      case "rawEtcd" -> setUpRawEtcd();
      default -> throw new IllegalArgumentException("backend: " + backend);
    }
    try {
      if (!ready.tryAcquire(watchers, DEADLINE.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new IllegalStateException("watchers not in place within " + DEADLINE);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /**
   * A registering mesh and {@code watchers} watching meshes over {@code nodeCount} name-server
   * nodes: one embedded node, or stateless nodes over etcd; mesh {@code i} on node {@code i %
   * nodeCount}.
   */
  private void setUpMeshes(int nodeCount) {
    if (backend.equals("embedded")) {
      nameServers.add(NameServer.builder().host("127.0.0.1").port(0).start().block(DEADLINE));
    } else {
      etcd = EtcdCluster.start(1);
      for (int i = 0; i < nodeCount; i++) {
        nameServers.add(
            new EtcdNameStoreProvider()
                .open(etcd.endpoints())
                .flatMap(
                    store -> NameServer.builder().host("127.0.0.1").port(0).store(store).start())
                .block(DEADLINE));
      }
    }
    registrar = mesh(0);
    for (int i = 1; i <= watchers; i++) {
      NameRouter router = mesh(i % nodeCount).router(ServiceName.parse(SERVICE));
      watches.add(
          router
              .members()
              .filter(e -> e.type() != MembershipEvent.Type.UPDATED)
              .subscribe(e -> seen.release()));
      router.firstView().block(DEADLINE);
      ready.release();
    }
  }

  private Mesh mesh(int node) {
    Mesh mesh =
        Mesh.builder("bench")
            .nameServer("127.0.0.1:" + nameServers.get(node).port())
            .start()
            .block(DEADLINE);
    meshes.add(mesh);
    return mesh;
  }

  private void setUpEtcdStore() {
    etcd = EtcdCluster.start(1);
    for (int i = 0; i <= watchers; i++) {
      nodes.add(new EtcdNameStoreProvider().open(etcd.endpoints()).block(DEADLINE));
    }
    session = nodes.get(0).openSession("bench", Duration.ofSeconds(30)).block(DEADLINE);
    for (int i = 1; i <= watchers; i++) {
      watches.add(
          nodes
              .get(i)
              .watch(ServiceSelector.service(SERVICE), 0)
              .subscribe(
                  e -> {
                    if (e.hasSnapshot()) {
                      ready.release();
                    } else if (e.hasInstanceAdded() || e.hasInstanceRemoved()) {
                      seen.release();
                    }
                  }));
    }
  }

  private void setUpRawEtcd() {
    etcd = EtcdCluster.start(1);
    for (int i = 0; i <= watchers; i++) {
      clients.add(Client.builder().endpoints(etcd.endpoints()).build());
    }
    ByteSequence prefix = bytes("/raw/" + SERVICE + "/");
    for (int i = 1; i <= watchers; i++) {
      rawWatchers.add(
          clients
              .get(i)
              .getWatchClient()
              .watch(
                  prefix,
                  WatchOption.builder().isPrefix(true).withCreateNotify(true).build(),
                  Watch.listener(
                      response -> {
                        if (response.getEvents().isEmpty()) {
                          ready.release(); // created
                        }
                        seen.release(response.getEvents().size());
                      })));
    }
  }

  /** Closes everything the trial started. */
  @TearDown
  public void tearDown() {
    watches.forEach(Disposable::dispose);
    rawWatchers.forEach(Watch.Watcher::close);
    meshes.forEach(mesh -> mesh.close().block(DEADLINE));
    nameServers.forEach(node -> node.closeNow(DEADLINE));
    if (session != null) {
      session.close("session closed").block(DEADLINE);
    }
    nodes.forEach(node -> node.close().block(DEADLINE));
    clients.forEach(Client::close);
    if (etcd != null) {
      etcd.close();
    }
  }

  /**
   * Registers an instance, waits until every watcher saw it, deregisters it, waits until every
   * watcher saw that.
   *
   * @throws Exception if a watcher does not see a change within 30 s
   */
  @Benchmark
  public void registerAndDeregister() throws Exception {
    String url = SERVICE + "/" + next++;
    switch (backend) {
      case "embedded", "etcdNodes" -> {
        MeshService service =
            registrar.register(ServiceUrl.parse(url), message -> Mono.empty()).block(DEADLINE);
        await();
        service.close().block(DEADLINE);
      }
      case "etcdStore" -> {
        session
            .register(Instance.newBuilder().setUrl(url).setAddress("127.0.0.1:9").build())
            .block(DEADLINE);
        await();
        session.deregister(url).block(DEADLINE);
      }
      default -> {
        ByteSequence key = bytes("/raw/" + url);
        clients.get(0).getKVClient().put(key, bytes("127.0.0.1:9")).get();
        await();
        clients.get(0).getKVClient().delete(key).get();
      }
    }
    await();
  }

  private void await() throws InterruptedException {
    if (!seen.tryAcquire(watchers, DEADLINE.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new IllegalStateException(
          "not every one of " + watchers + " watchers saw the change within " + DEADLINE);
    }
  }

  private static ByteSequence bytes(String s) {
    return ByteSequence.from(s, StandardCharsets.UTF_8);
  }
}

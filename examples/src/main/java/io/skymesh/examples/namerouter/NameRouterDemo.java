package io.skymesh.examples.namerouter;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.AttributesChange;
import io.skymesh.mesh.Instance;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.NameRouter;
import io.skymesh.mesh.routing.RoutingPolicy;
import io.skymesh.nameserver.NameServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Runs name-router in one process: an embedded name server, two counting servers in meshes of their
 * own, and a client that sends ten messages by round robin and ten by the hash of five user ids
 * (each id twice), then watches the servers' {@code received} attributes until they account for
 * every message.
 */
public final class NameRouterDemo {

  /** The servers' service. */
  public static final ServiceName ECHO = ServiceName.parse("router.zone1.echo");

  private static final Duration TIMEOUT = Duration.ofSeconds(30);

  private NameRouterDemo() {}

  /**
   * What the client saw.
   *
   * @param roundRobin the instance id each round-robin message went to, in order
   * @param byKey the instance id each user id's messages went to (both times, or "split")
   * @param received each instance id's last published {@code received} attribute
   */
  public record Report(
      List<String> roundRobin, Map<String, String> byKey, Map<String, Long> received) {}

  /**
   * Runs the demo, printing what happens.
   *
   * @param args ignored
   */
  public static void main(String[] args) {
    run(System.out::println);
  }

  /**
   * Runs the demo.
   *
   * @param out where to print what happens
   * @return what the client saw
   */
  public static Report run(Consumer<String> out) {
    NameServer nameServer = NameServer.builder().port(0).start().block(TIMEOUT);
    String address = "127.0.0.1:" + nameServer.port();
    List<Mesh> meshes = new ArrayList<>();
    try {
      List<CountingServer> servers = new ArrayList<>();
      for (String id : List.of("1", "2")) {
        Mesh mesh = mesh(address, meshes);
        servers.add(
            CountingServer.start(mesh, ECHO.instance(id), Duration.ofMillis(50)).block(TIMEOUT));
      }
      Mesh client = mesh(address, meshes);
      MeshService sender =
          client
              .register(ServiceUrl.parse("router.zone1.client/1"), message -> Mono.empty())
              .block(TIMEOUT);
      NameRouter echo = client.router(ECHO);
      echo.views().filter(view -> view.size() == servers.size()).next().block(TIMEOUT);

      RoutingPolicy roundRobin = RoutingPolicy.roundRobin();
      List<String> byRoundRobin =
          Flux.range(1, 10)
              .concatMap(i -> sender.sendTo(echo, roundRobin, payload("round robin " + i)))
              .map(instance -> instance.url().instanceId())
              .doOnNext(id -> out.accept("round robin -> echo/" + id))
              .collectList()
              .block(TIMEOUT);

      Map<String, String> byKey = new TreeMap<>();
      Flux.range(0, 10)
          .map(i -> "user-" + (i % 5 + 1))
          .concatMap(
              user ->
                  sender
                      .sendTo(echo, RoutingPolicy.hash(), user, payload(user))
                      .map(Instance::url)
                      .doOnNext(
                          url -> {
                            out.accept("hash(" + user + ") -> echo/" + url.instanceId());
                            byKey.merge(
                                user, url.instanceId(), (a, b) -> a.equals(b) ? a : "split");
                          }))
          .blockLast(TIMEOUT);

      // The client learns the counts from the name server: the servers publish them as attributes.
      Map<String, Long> received = new TreeMap<>();
      echo.attributes()
          .doOnNext(
              change -> out.accept("echo/" + change.url().instanceId() + " " + change.attributes()))
          .doOnNext(change -> received.put(change.url().instanceId(), receivedOf(change)))
          .takeUntil(change -> received.values().stream().mapToLong(Long::longValue).sum() == 20)
          .blockLast(TIMEOUT);
      return new Report(byRoundRobin, byKey, received);
    } finally {
      meshes.forEach(mesh -> mesh.closeGracefully(Duration.ofSeconds(5)).block(TIMEOUT));
      nameServer.closeNow(TIMEOUT);
    }
  }

  private static long receivedOf(AttributesChange change) {
    return Long.parseLong(change.attributes().getOrDefault(CountingServer.RECEIVED, "0"));
  }

  private static ByteString payload(String text) {
    return ByteString.copyFromUtf8(text);
  }

  private static Mesh mesh(String nameServer, List<Mesh> meshes) {
    Mesh mesh = Mesh.builder("router").nameServer(nameServer).start().block(TIMEOUT);
    meshes.add(mesh);
    return mesh;
  }
}

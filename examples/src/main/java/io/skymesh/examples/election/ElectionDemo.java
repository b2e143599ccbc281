package io.skymesh.examples.election;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.Leader;
import io.skymesh.mesh.Leadership;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.NameRouter;
import io.skymesh.nameserver.NameServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import reactor.core.publisher.Mono;

/**
 * Runs election in one process: an embedded name server, two candidates of {@code
 * election.zone1.master} in meshes of their own, and a watcher in a third. Each candidate
 * campaigns; when told "resign" it resigns and, once the other leads, campaigns again. The watcher
 * follows the router's leader stream and tells each new leader to resign, so leadership flips
 * between the two, the term growing by one each time.
 */
public final class ElectionDemo {

  /** The candidates' service. */
  public static final ServiceName MASTER = ServiceName.parse("election.zone1.master");

  private static final Duration TIMEOUT = Duration.ofSeconds(30);
  private static final ByteString RESIGN = ByteString.copyFromUtf8("resign");

  private ElectionDemo() {}

  /**
   * Runs the demo for 6 changes of leader, printing what happens.
   *
   * @param args optionally the number of leaders to see
   */
  public static void main(String[] args) {
    run(args.length > 0 ? Integer.parseInt(args[0]) : 6, System.out::println);
  }

  /**
   * Runs the demo.
   *
   * @param leaders how many leaders the watcher sees (and tells to resign) before it stops
   * @param out where to print what happens
   * @return the leaders the watcher saw, in order
   */
  public static List<Leader> run(int leaders, Consumer<String> out) {
    NameServer nameServer = NameServer.builder().port(0).start().block(TIMEOUT);
    String address = "127.0.0.1:" + nameServer.port();
    List<Mesh> meshes = new ArrayList<>();
    try {
      Mesh watcherMesh = mesh(address, meshes);
      MeshService watcher =
          watcherMesh
              .register(ServiceUrl.parse("election.zone1.watcher/1"), message -> Mono.empty())
              .block(TIMEOUT);
      NameRouter master = watcherMesh.router(MASTER);
      // The first candidate leads before the second joins, so the demo always starts the same way.
      candidate(mesh(address, meshes), MASTER.instance("1"), out);
      master.leader().filter(Leader::isPresent).next().block(TIMEOUT);
      candidate(mesh(address, meshes), MASTER.instance("2"), out);
      return master
          .leader()
          .filter(Leader::isPresent)
          .doOnNext(
              leader ->
                  out.accept("watcher: " + leader.url().get() + " leads, term " + leader.term()))
          .concatMap(
              leader ->
                  watcher
                      .sendTo(leader.url().get(), RESIGN)
                      .onErrorResume(
                          e -> {
                            // Said, not swallowed: the leader was not told, and will not resign.
                            out.accept(
                                "watcher: could not tell "
                                    + leader.url().get()
                                    + " to resign: "
                                    + e);
                            return Mono.empty();
                          })
                      .thenReturn(leader))
          .take(leaders)
          .collectList()
          .block(TIMEOUT);
    } finally {
      meshes.forEach(mesh -> mesh.closeGracefully(Duration.ofSeconds(5)).block(TIMEOUT));
      nameServer.closeNow(TIMEOUT);
    }
  }

  /**
   * Registers a candidate that campaigns, and when told to resign, resigns and campaigns again once
   * another candidate leads. Waiting for the other leader keeps the flips deterministic: the other
   * candidate's first Campaign may still be on its way to the name server when this one resigns,
   * and campaigning again at once could win the election back.
   */
  private static void candidate(Mesh mesh, ServiceUrl url, Consumer<String> out) {
    NameRouter master = mesh.router(MASTER);
    MeshService[] self = new MeshService[1];
    self[0] =
        mesh.register(
                url,
                message ->
                    message.payload().equals(RESIGN)
                        ? self[0]
                            .resign()
                            .then(
                                master
                                    .leader()
                                    .filter(leader -> leader.isPresent() && !leader.isLeader(url))
                                    .next())
                            .doOnSuccess(ignored -> campaign(self[0], out))
                            .onErrorResume(e -> Mono.empty())
                            .then()
                        : Mono.empty())
            .block(TIMEOUT);
    campaign(self[0], out);
  }

  private static void campaign(MeshService service, Consumer<String> out) {
    service
        .campaign()
        .subscribe(
            change ->
                out.accept(
                    service.url()
                        + (change.type() == Leadership.Type.GAINED ? ": gained" : ": lost")
                        + " term "
                        + change.term()),
            error -> out.accept(service.url() + ": campaign failed: " + error));
  }

  private static Mesh mesh(String nameServer, List<Mesh> meshes) {
    Mesh mesh = Mesh.builder("election").nameServer(nameServer).start().block(TIMEOUT);
    meshes.add(mesh);
    return mesh;
  }
}

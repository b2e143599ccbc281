package io.skymesh.mesh;

import static io.skymesh.mesh.TestMeshes.DEADLINE;
import static io.skymesh.mesh.TestMeshes.register;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.MeshClosedException;
import io.skymesh.mesh.routing.RoutingPolicy;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.test.StepVerifier;

/**
 * Instance attributes: stored by the name server, streamed by routers, read by weighted policies.
 */
class AttributesTest {

  private static final ServiceName CHAT = ServiceName.parse("game.zone1.chat");

  private final TestMeshes meshes = TestMeshes.withNameServer();

  @AfterEach
  void close() {
    meshes.close();
  }

  @Test
  void aRouterThatSubscribesAfterAttributesWereSetSeesThem() {
    MeshService chat =
        meshes
            .mesh()
            .register(
                ServiceUrl.parse("game.zone1.chat/1"),
                message -> reactor.core.publisher.Mono.empty(),
                ServiceOptions.defaults().withAttributes(Map.of("zone", "a", "color", "red")))
            .block(DEADLINE);
    chat.setAttributes(Map.of("zone", "a", "load", "3")).block(DEADLINE);
    chat.updateAttributes(Map.of("zone", "b")).block(DEADLINE);

    NameRouter router = meshes.mesh().router(CHAT);
    StepVerifier.create(router.attributes().take(1))
        .assertNext(
            change -> {
              assertThat(change.url()).isEqualTo(chat.url());
              // Replaced (color gone), then merged (zone changed, load kept).
              assertThat(change.attributes()).isEqualTo(Map.of("zone", "b", "load", "3"));
            })
        .expectComplete()
        .verify(DEADLINE);
  }

  @Test
  void attributeUpdatesArriveInRevisionOrderAndWeightChangesAloneAreNotThem() {
    MeshService chat = register(meshes.mesh(), "game.zone1.chat/1");
    NameRouter router = meshes.mesh().router(CHAT);
    List<AttributesChange> seen = new CopyOnWriteArrayList<>();
    Disposable watching = router.attributes().subscribe(seen::add);
    try {
      await().atMost(DEADLINE).until(() -> seen.size() == 1);
      assertThat(seen.get(0).attributes()).isEmpty();
      Flux.range(1, 30)
          .concatMap(i -> chat.updateAttributes(Map.of("count", Integer.toString(i))))
          .then()
          .block(DEADLINE);
      await().atMost(DEADLINE).until(() -> seen.size() == 31);
      for (int i = 1; i <= 30; i++) {
        assertThat(seen.get(i).attributes()).containsEntry("count", Integer.toString(i));
        assertThat(seen.get(i).revision()).isGreaterThan(seen.get(i - 1).revision());
      }
    } finally {
      watching.dispose();
    }
  }

  @Test
  void theWeightAttributeSteersWeightedRoundRobin() {
    Mesh server = meshes.mesh();
    MeshService one = register(server, "game.zone1.chat/1");
    register(server, "game.zone1.chat/2");
    one.setAttributes(Map.of("weight", "3")).block(DEADLINE);
    NameRouter router = meshes.mesh().router(CHAT);
    await()
        .atMost(DEADLINE)
        .until(
            () ->
                router.currentView().instances().stream()
                    .anyMatch(i -> "3".equals(i.attributes().get("weight"))));
    await().atMost(DEADLINE).until(() -> router.currentView().size() == 2);
    RoutingPolicy weighted = RoutingPolicy.weightedRoundRobin();
    Map<String, Integer> picks = new HashMap<>();
    Flux.range(0, 400)
        .concatMap(i -> router.select(weighted))
        .doOnNext(instance -> picks.merge(instance.url().instanceId(), 1, Integer::sum))
        .blockLast(DEADLINE);
    assertThat(picks).containsEntry("1", 300).containsEntry("2", 100);
  }

  @Test
  void aClosedServiceCannotSetAttributes() {
    MeshService chat = register(meshes.mesh(), "game.zone1.chat/1");
    chat.close().block(DEADLINE);
    StepVerifier.create(chat.setAttributes(Map.of("a", "b")))
        .expectError(MeshClosedException.class)
        .verify(DEADLINE);
  }

  @Test
  void routedSendsGoWhereThePolicyPicksAndCarryThePayload() {
    Mesh server = meshes.mesh();
    List<String> received = new CopyOnWriteArrayList<>();
    for (int i = 1; i <= 3; i++) {
      String id = Integer.toString(i);
      register(
          server,
          "game.zone1.chat/" + id,
          message -> {
            received.add(id + ":" + message.payload().toStringUtf8());
            return reactor.core.publisher.Mono.empty();
          });
    }
    Mesh client = meshes.mesh();
    MeshService lobby = register(client, "game.zone1.lobby/1");
    NameRouter router = client.router(CHAT);
    RoutingPolicy roundRobin = RoutingPolicy.roundRobin();
    Flux.range(0, 6)
        .concatMap(i -> lobby.sendTo(router, roundRobin, ByteString.copyFromUtf8("rr")))
        .blockLast(DEADLINE);
    String[] sentTo = new String[3];
    for (int i = 0; i < 3; i++) {
      sentTo[i] =
          lobby
              .sendTo(
                  router, RoutingPolicy.consistentHash(), "user-42", ByteString.copyFromUtf8("h"))
              .block(DEADLINE)
              .url()
              .instanceId();
    }
    await().atMost(DEADLINE).until(() -> received.size() == 9);
    assertThat(received.stream().filter(r -> r.endsWith(":rr")).map(r -> r.substring(0, 1)))
        .containsExactlyInAnyOrder("1", "1", "2", "2", "3", "3");
    assertThat(sentTo).containsOnly(sentTo[0]);
    assertThat(received.stream().filter(r -> r.endsWith(":h")))
        .containsOnly(sentTo[0] + ":h")
        .hasSize(3);
    // Nothing stays counted in flight once the sends are written.
    router
        .currentView()
        .instances()
        .forEach(instance -> assertThat(router.peerStats().inFlight(instance.url())).isZero());
  }
}

package io.skymesh.mesh.observation;

import static io.skymesh.mesh.TestMeshes.register;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.micrometer.common.KeyValue;
import io.micrometer.observation.GlobalObservationConvention;
import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationHandler;
import io.micrometer.observation.ObservationRegistry;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.TestMeshes;
import io.skymesh.mesh.rpc.Methods;
import io.skymesh.mesh.rpc.Reply;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;

/**
 * The observations' names and keys without a tracer: the defaults as an observation handler sees
 * them when the observation stops, and an application's global convention replacing the default.
 */
class MeshObservationConventionTest {

  private static final ServiceUrl GREETER = ServiceUrl.parse("game.zone1.greeter/1");

  private final TestMeshes fixture = TestMeshes.withNameServer();
  private final List<String> stopped = new CopyOnWriteArrayList<>();

  @AfterEach
  void tearDown() {
    fixture.close();
  }

  private ObservationRegistry recording() {
    ObservationRegistry registry = ObservationRegistry.create();
    registry
        .observationConfig()
        .observationHandler(
            new ObservationHandler<>() {
              @Override
              public void onStop(Observation.Context context) {
                Map<String, String> keys = new TreeMap<>();
                for (KeyValue kv : context.getLowCardinalityKeyValues()) {
                  keys.put(kv.getKey(), kv.getValue());
                }
                for (KeyValue kv : context.getHighCardinalityKeyValues()) {
                  keys.put(kv.getKey(), kv.getValue());
                }
                stopped.add(context.getName() + " " + context.getContextualName() + " " + keys);
              }

              @Override
              public boolean supportsContext(Observation.Context context) {
                return true;
              }
            });
    return registry;
  }

  private MeshService callerOf(ObservationRegistry registry) {
    register(
        fixture.mesh(b -> b.observationRegistry(registry)),
        GREETER.toString(),
        Methods.builder().add("Hello", request -> Mono.just(Reply.of(request.payload()))).build());
    return register(fixture.mesh(b -> b.observationRegistry(registry)), "game.zone1.client/1");
  }

  @Test
  void theDefaultConventionsNameTheObservationsAndTheirKeys() {
    MeshService client = callerOf(recording());

    StepVerifier.create(client.request(GREETER, "Hello", ByteString.EMPTY))
        .expectNextCount(1)
        .expectComplete()
        .verify(TestMeshes.DEADLINE);

    await().atMost(TestMeshes.DEADLINE).until(() -> stopped.size() == 2);
    assertThat(stopped)
        .containsExactlyInAnyOrder(
            "skymesh.client.requests request game.zone1.greeter/Hello"
                + " {destination=game.zone1.greeter/1, kind=request, method=Hello,"
                + " service=game.zone1.greeter, status=OK}",
            "skymesh.server.requests request game.zone1.greeter/Hello"
                + " {kind=request, method=Hello, service=game.zone1.greeter,"
                + " source=game.zone1.client/1, status=OK}");
  }

  @Test
  void anApplicationsGlobalConventionReplacesTheDefault() {
    ObservationRegistry registry = recording();
    registry
        .observationConfig()
        .observationConvention(
            new GlobalObservationConvention<MeshSenderContext>() {
              @Override
              public boolean supportsContext(Observation.Context context) {
                return context instanceof MeshSenderContext;
              }

              @Override
              public String getName() {
                return "app.mesh.calls";
              }

              @Override
              public String getContextualName(MeshSenderContext context) {
                return "call " + context.method();
              }
            });
    MeshService client = callerOf(registry);

    StepVerifier.create(client.request(GREETER, "Hello", ByteString.EMPTY))
        .expectNextCount(1)
        .expectComplete()
        .verify(TestMeshes.DEADLINE);

    await().atMost(TestMeshes.DEADLINE).until(() -> stopped.size() == 2);
    assertThat(stopped).contains("app.mesh.calls call Hello {}");
    assertThat(stopped).anyMatch(s -> s.startsWith("skymesh.server.requests "));
  }
}

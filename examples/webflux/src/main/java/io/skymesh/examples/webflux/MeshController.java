package io.skymesh.examples.webflux;

import io.skymesh.core.ServiceName;
import io.skymesh.mesh.Instance;
import io.skymesh.mesh.MembershipEvent;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.routing.RoutingPolicy;
import java.util.Map;
import org.springframework.http.MediaType;
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/** The HTTP side: each handler returns a mesh stream or a mesh call as is. */
@RestController
public class MeshController {

  private final Mesh mesh;
  private final Greetings greetings;
  private final RoutingPolicy roundRobin = RoutingPolicy.roundRobin();

  /**
   * Created by Spring.
   *
   * @param mesh the application's mesh
   * @param greetings the mesh calls
   */
  public MeshController(Mesh mesh, Greetings greetings) {
    this.mesh = mesh;
    this.greetings = greetings;
  }

  /**
   * Greets {@code name} through a greeter picked round robin, or the instance {@code instance}.
   *
   * @param name who to greet
   * @param instance a greeter instance id, or none to let the router pick
   * @return the greeter's reply
   */
  @GetMapping(path = "/hello/{name}", produces = MediaType.TEXT_PLAIN_VALUE)
  public Mono<String> hello(
      @PathVariable("name") String name,
      @RequestParam(name = "instance", required = false) String instance) {
    Mono<Instance> greeter =
        instance != null
            ? Mono.fromSupplier(
                () ->
                    mesh.router(Greetings.GREETER)
                        .currentView()
                        .instance(Greetings.GREETER.instance(instance))
                        .orElseThrow(
                            () ->
                                new IllegalArgumentException(
                                    "instance: " + instance + " (expected: a live greeter)")))
            : mesh.router(Greetings.GREETER).select(roundRobin);
    return greeter.flatMap(picked -> greetings.call(picked.url(), name));
  }

  /**
   * Streams a service's membership as server-sent events: a comment naming the service (so that the
   * response starts at once, even for a service with no member yet), then an {@code ADDED} for
   * every current member, then every change.
   *
   * @param service the service, {@code app.env.service}
   * @return the events
   */
  @GetMapping(path = "/members/{service}", produces = MediaType.TEXT_EVENT_STREAM_VALUE)
  public Flux<ServerSentEvent<Member>> members(@PathVariable("service") String service) {
    ServiceName name = ServiceName.parse(service);
    return mesh.router(name)
        .members()
        .map(
            event ->
                ServerSentEvent.builder(Member.of(event))
                    .event(event.type().name())
                    .id(Long.toString(event.revision()))
                    .build())
        .startWith(ServerSentEvent.<Member>builder().comment("members of " + name).build());
  }

  /**
   * One membership event, as JSON.
   *
   * @param type {@code ADDED}, {@code UPDATED} or {@code REMOVED}
   * @param url the instance
   * @param address its process's peer address
   * @param attributes its attributes
   * @param revision the name server's revision
   */
  public record Member(
      String type, String url, String address, Map<String, String> attributes, long revision) {

    static Member of(MembershipEvent event) {
      Instance instance = event.instance();
      return new Member(
          event.type().name(),
          instance.url().toString(),
          instance.address(),
          instance.attributes(),
          event.revision());
    }
  }
}

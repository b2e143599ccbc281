package io.skymesh.mesh.routing;

import io.skymesh.core.ServiceName;
import io.skymesh.mesh.Instance;
import io.skymesh.mesh.ServiceView;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Views of made-up instances for policy tests: instance {@code i} sorts at index {@code i}. */
final class Views {

  static final ServiceName SERVICE = ServiceName.parse("game.zone1.svc");

  private Views() {}

  /** A view of {@code n} instances of weight 1, ids {@code i000}, {@code i001}, .... */
  static ServiceView of(int n) {
    return of(SERVICE, n);
  }

  static ServiceView of(ServiceName service, int n) {
    List<Instance> instances = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      instances.add(instance(service, id(i), 1, Map.of(), "p" + i));
    }
    return ServiceView.of(service, instances, 1);
  }

  /** A view whose instance {@code i} has registered weight {@code weights.get(i)}. */
  static ServiceView weighted(List<Integer> weights) {
    List<Instance> instances = new ArrayList<>();
    for (int i = 0; i < weights.size(); i++) {
      instances.add(instance(SERVICE, id(i), weights.get(i), Map.of(), "p" + i));
    }
    return ServiceView.of(SERVICE, instances, 1);
  }

  /** A view of the instances with these ids, in one process each. */
  static ServiceView ofIds(List<String> ids, long revision) {
    List<Instance> instances = new ArrayList<>();
    for (String id : ids) {
      instances.add(instance(SERVICE, id, 1, Map.of(), "p-" + id));
    }
    return ServiceView.of(SERVICE, instances, revision);
  }

  static Instance instance(
      ServiceName service, String id, int weight, Map<String, String> attributes, String process) {
    return new Instance(
        service.instance(id),
        "127.0.0.1:" + (10000 + id.hashCode() % 1000),
        weight,
        attributes,
        process,
        1);
  }

  static String id(int i) {
    return String.format("i%03d", i);
  }

  /** The index of {@code instance} in {@code view}. */
  static int indexOf(ServiceView view, Instance instance) {
    int index = view.instances().indexOf(instance);
    if (index < 0) {
      throw new AssertionError(instance.url() + " is not in " + view);
    }
    return index;
  }
}

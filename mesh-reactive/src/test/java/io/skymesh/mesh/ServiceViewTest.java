package io.skymesh.mesh;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The persistent view against a plain sorted map, changes applied one at a time. */
class ServiceViewTest {

  private static final ServiceName SERVICE = ServiceName.parse("game.zone1.svc");

  /**
   * Ids of which many share a String hash code ("Aa" and "BB" do), so urls collide in the index.
   */
  private static final List<String> IDS = ids();

  private static List<String> ids() {
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      ids.add("i" + i);
    }
    String[] halves = {"Aa", "BB"};
    for (String a : halves) {
      for (String b : halves) {
        for (String c : halves) {
          ids.add(a + b + c);
        }
      }
    }
    return ids;
  }

  private static Instance instance(String id, int weight) {
    return new Instance(
        SERVICE.instance(id), "127.0.0.1:" + (1000 + weight), weight, Map.of(), "p", weight);
  }

  @ParameterizedTest
  @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
  void changesOneAtATimeMatchASortedMapAndLeaveOlderViewsAlone(long seed) {
    Random random = new Random(seed);
    TreeMap<ServiceUrl, Instance> model = new TreeMap<>();
    ServiceView view = ServiceView.empty(SERVICE);
    List<ServiceView> older = new ArrayList<>();
    List<List<Instance>> olderContents = new ArrayList<>();
    for (int step = 1; step <= 3_000; step++) {
      String id = IDS.get(random.nextInt(IDS.size()));
      ServiceUrl url = SERVICE.instance(id);
      if (random.nextInt(3) == 0) {
        model.remove(url);
        view = view.without(url, step);
      } else {
        Instance instance = instance(id, 1 + random.nextInt(5));
        model.put(url, instance);
        view = view.with(instance, step);
      }
      assertThat(view.size()).isEqualTo(model.size());
      assertThat(view.revision()).isEqualTo(step);
      assertThat(view.instance(url)).isEqualTo(Optional.ofNullable(model.get(url)));
      if (seed % 2 == 0) {
        // Every view's list made: each is its predecessor's list with one edit.
        assertThat(view.instances()).containsExactlyElementsOf(model.values());
      }
      if (step % 100 == 0) {
        assertThat(view.instances()).containsExactlyElementsOf(model.values());
        for (String any : IDS) {
          ServiceUrl other = SERVICE.instance(any);
          assertThat(view.instance(other)).isEqualTo(Optional.ofNullable(model.get(other)));
        }
        older.add(view);
        olderContents.add(List.copyOf(model.values()));
      }
    }
    for (int i = 0; i < older.size(); i++) {
      assertThat(older.get(i).instances()).containsExactlyElementsOf(olderContents.get(i));
    }
    // Built at once from the same instances, a view is equal to the one built change by change.
    assertThat(ServiceView.of(SERVICE, model.values(), view.revision())).isEqualTo(view);
  }

  @Test
  void removingEverythingLeavesAnEmptyViewThatStillWorks() {
    ServiceView view = ServiceView.empty(SERVICE);
    for (String id : IDS) {
      view = view.with(instance(id, 1), 1);
    }
    for (String id : IDS) {
      view = view.without(SERVICE.instance(id), 2);
    }
    assertThat(view.isEmpty()).isTrue();
    assertThat(view.instances()).isEmpty();
    view = view.with(instance("BBAaBB", 2), 3);
    assertThat(view.instances()).containsExactly(instance("BBAaBB", 2));
  }

  @Test
  void theLeaderInstanceFollowsTheMembers() {
    ServiceUrl one = SERVICE.instance("i1");
    ServiceView view =
        ServiceView.of(
            SERVICE, List.of(instance("i2", 1)), new Leader(SERVICE, Optional.of(one), 3, 5), 5);
    assertThat(view.leader().term()).isEqualTo(3);
    assertThat(view.leaderInstance()).isEmpty(); // leads, but not in the view yet
    ServiceView joined = view.with(instance("i1", 1), 6);
    assertThat(joined.leaderInstance()).contains(instance("i1", 1));
    assertThat(joined.without(one, 7).leaderInstance()).isEmpty();
    assertThat(joined.withLeader(Leader.none(SERVICE, 3, 8), 8).leaderInstance()).isEmpty();
  }

  @Test
  void aViewHoldsOneServiceAndDistinctUrls() {
    Instance other =
        new Instance(
            ServiceName.parse("game.zone1.other").instance("1"), "h:1", 1, Map.of(), "p", 1);
    assertThatIllegalArgumentException()
        .isThrownBy(() -> ServiceView.of(SERVICE, List.of(other), 1))
        .withMessageContaining("game.zone1.other");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> ServiceView.empty(SERVICE).with(other, 1))
        .withMessageContaining("expected: of " + SERVICE);
    assertThatIllegalArgumentException()
        .isThrownBy(() -> ServiceView.of(SERVICE, List.of(instance("a", 1), instance("a", 2)), 1))
        .withMessageContaining("twice");
  }
}

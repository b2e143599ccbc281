package io.skymesh.mesh.internal.rpc;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * The stream table against a map as the model: any sequence of puts, lookups and removals, with ids
 * that share slots, gives the map's answers; and threads adding and taking entries at once lose
 * none and count right.
 */
class StreamTablePropertyTest {

  /** An entry; identity matters, as for the calls the table holds. */
  private record Call(long streamId, int serial) implements StreamTable.Entry {}

  /**
   * One operation: 0 put, 1 get, 2 remove by id, 3 remove an entry (the model's, or a stranger).
   */
  private record Op(int kind, long id) {}

  @Provide
  Arbitrary<List<Op>> operations() {
    // Ids a few slot-widths apart land in the same slots, so the overflow map is used too.
    Arbitrary<Long> ids =
        Arbitraries.integers()
            .between(0, 5)
            .flatMap(
                lap ->
                    Arbitraries.longs()
                        .between(0, 7)
                        .map(low -> (long) lap * StreamTable.SLOTS + low));
    return Arbitraries.integers()
        .between(0, 3)
        .flatMap(kind -> ids.map(id -> new Op(kind, id)))
        .list()
        .ofMaxSize(200);
  }

  @Property(tries = 300)
  void answersAsAMapWould(@ForAll("operations") List<Op> operations) {
    StreamTable<Call> table = new StreamTable<>();
    Map<Long, Call> model = new HashMap<>();
    int serial = 0;

    for (Op op : operations) {
      switch (op.kind()) {
        case 0 -> {
          Call call = new Call(op.id(), serial++);
          Call there = table.putIfAbsent(call);
          assertThat(there).isSameAs(model.get(op.id()));
          model.putIfAbsent(op.id(), call);
        }
        case 1 -> assertThat(table.get(op.id())).isSameAs(model.get(op.id()));
        case 2 -> assertThat(table.remove(op.id())).isSameAs(model.remove(op.id()));
        default -> {
          Call known = model.get(op.id());
          Call entry = known != null && serial % 2 == 0 ? known : new Call(op.id(), serial++);
          boolean removed = table.remove(entry);
          assertThat(removed).isEqualTo(known == entry);
          if (removed) {
            model.remove(op.id());
          }
        }
      }
      assertThat(table.size()).isEqualTo(model.size());
      assertThat(table.isEmpty()).isEqualTo(model.isEmpty());
    }
    List<Call> seen = new ArrayList<>();
    table.forEach(seen::add);
    assertThat(seen).containsExactlyInAnyOrderElementsOf(model.values());
    List<Call> drained = new ArrayList<>();
    table.drain(drained::add);
    assertThat(drained).containsExactlyInAnyOrderElementsOf(model.values());
    assertThat(table.isEmpty()).isTrue();
  }

  @Example
  void threadsAddingAndTakingAtOnceLoseNothing() throws Exception {
    StreamTable<Call> table = new StreamTable<>();
    int threads = 4;
    int perThread = 20_000;
    CyclicBarrier start = new CyclicBarrier(threads);
    List<CompletableFuture<Integer>> workers = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int first = t;
      workers.add(
          CompletableFuture.supplyAsync(
              () -> {
                await(start);
                int taken = 0;
                // Interleaved ids: every thread's ids share slots with the others'. Each thread
                // takes two older ids of other threads', so every id is taken at by two threads.
                for (int i = 0; i < perThread; i++) {
                  long id = (long) i * threads + first;
                  assertThat(table.putIfAbsent(new Call(id, 0))).isNull();
                  for (long older = id - 2L * threads - 2; older < id - 2L * threads; older++) {
                    if (older >= 0 && table.remove(older) != null) {
                      taken++;
                    }
                  }
                }
                return taken;
              }));
    }
    int taken = 0;
    for (CompletableFuture<Integer> worker : workers) {
      taken += worker.get(30, TimeUnit.SECONDS);
    }

    // An entry taken twice would count more than were added, one lost fewer.
    assertThat(taken + table.size()).isEqualTo(threads * perThread);
    List<Call> left = new ArrayList<>();
    table.drain(left::add);
    assertThat(left).hasSize(threads * perThread - taken);
    assertThat(table.isEmpty()).isTrue();
  }

  private static void await(CyclicBarrier barrier) {
    try {
      barrier.await(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}

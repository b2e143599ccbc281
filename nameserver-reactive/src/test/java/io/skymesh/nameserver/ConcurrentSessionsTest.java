package io.skymesh.nameserver;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.skymesh.proto.Deregister;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.WatchEvent;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.scheduler.Schedulers;

/** Many sessions changing things at once: one order of revisions, one answer per request. */
class ConcurrentSessionsTest extends NameServerTestSupport {

  private static final int CLIENTS = 8;
  private static final int STEPS = 100;

  @Test
  void concurrentChangesAreSeenInOneOrderWithoutGaps() {
    NameServer server = start();
    TestClient watcher = open(server, "game");
    watcher.watchPrefix(1, "", 0).block(TIMEOUT);
    List<WatchEvent> seen = new CopyOnWriteArrayList<>();
    watcher.events(1).subscribe(seen::add);
    List<TestClient> clients = new ArrayList<>();
    for (int c = 0; c < CLIENTS; c++) {
      clients.add(open(server, "game"));
    }

    List<NameServerFrame> answers =
        Flux.range(0, CLIENTS)
            .parallel(CLIENTS)
            .runOn(Schedulers.parallel())
            .flatMap(c -> steps(clients.get(c), c))
            .sequential()
            .collectList()
            .block(TIMEOUT);

    assertThat(answers).hasSize(CLIENTS * STEPS);
    long end = server.revision();
    await().atMost(TIMEOUT).until(() -> seen.get(seen.size() - 1).getRevision() == end);
    assertThat(seen.get(0).hasSnapshot()).isTrue();
    // Everything is under the empty prefix: every revision exactly once, in order.
    assertThat(seen.stream().skip(1).map(WatchEvent::getRevision).collect(Collectors.toList()))
        .isEqualTo(LongStream.rangeClosed(1, end).boxed().collect(Collectors.toList()));
    View view = new View();
    seen.forEach(view::apply);
    assertThat(view.instances).isEqualTo(WatchResumeTest.truth(server, ""));
    long acks = answers.stream().filter(NameServerFrame::hasAck).count();
    assertThat(acks).as("every change acked, each with its own revision").isEqualTo(end);
  }

  /** Pipelined random changes of one client's own urls; the answers, one per request. */
  private static Flux<NameServerFrame> steps(TestClient client, int c) {
    Random random = new Random(c);
    List<NameClientFrame.Builder> requests = new ArrayList<>();
    boolean[] held = new boolean[4];
    for (int i = 0; i < STEPS; i++) {
      int n = random.nextInt(held.length);
      String url = "game.zone" + c + ".s" + (n % 2) + "/" + n;
      if (!held[n]) {
        requests.add(TestClient.register(url, "127.0.0.1:" + (7000 + n), Map.of()));
        held[n] = true;
      } else if (random.nextBoolean()) {
        requests.add(TestClient.setAttributes(url, Map.of("i", "" + i), random.nextBoolean()));
      } else {
        requests.add(
            NameClientFrame.newBuilder().setDeregister(Deregister.newBuilder().setUrl(url)));
        held[n] = false;
      }
    }
    // In order per client (a deregister must follow its register), many clients at once.
    return Flux.fromIterable(requests).concatMap(client::call);
  }
}

package io.skymesh.mesh.internal.naming;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.skymesh.nameserver.NameServer;
import io.skymesh.proto.Instance;
import io.skymesh.proto.KvWatchEvent;
import io.skymesh.proto.WatchEvent;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;

/**
 * A watch resumed against a name server whose revisions are lower than the last one the client saw
 * (a restarted server, or another node): the server answers with a resync snapshot at its own,
 * lower revision, and every later event must still be delivered.
 */
class NameServerClientResyncTest {

  private static final Duration DEADLINE = Duration.ofSeconds(30);

  private NameServer server;
  private NameServerClient client;
  private Disposable watching;

  @AfterEach
  void closeEverything() {
    if (watching != null) {
      watching.dispose();
    }
    if (client != null) {
      client.close().block(DEADLINE);
    }
    if (server != null) {
      server.closeNow(DEADLINE);
    }
  }

  @Test
  void serviceWatchDeliversEventsAfterAResyncAtALowerRevision() throws InterruptedException {
    server = NameServer.builder().port(0).start().block(DEADLINE);
    int port = server.port();
    client = client(port);
    client.start().block(DEADLINE);
    BlockingQueue<WatchEvent> events = new LinkedBlockingQueue<>();
    watching = client.watch("game.zone1.lobby").subscribe(update -> events.add(update.event()));
    assertThat(next(events).hasSnapshot()).isTrue();
    client.register(instance("game.zone1.lobby/1")).block(DEADLINE);
    WatchEvent added = next(events);
    assertThat(added.getInstanceAdded().getUrl()).isEqualTo("game.zone1.lobby/1");

    server.closeNow(DEADLINE);
    server = NameServer.builder().port(port).initialRevision(0).start().block(DEADLINE);

    WatchEvent resync = next(events);
    assertThat(resync.hasSnapshot()).isTrue();
    assertThat(resync.getRevision()).isLessThan(added.getRevision());
    client.register(instance("game.zone1.lobby/2")).block(DEADLINE);
    WatchEvent afterResync = next(events);
    assertThat(afterResync.getInstanceAdded().getUrl()).isEqualTo("game.zone1.lobby/2");
    assertThat(afterResync.getRevision()).isGreaterThan(resync.getRevision());
  }

  @Test
  void kvWatchDeliversEventsAfterAResyncAtALowerRevision() throws InterruptedException {
    server = NameServer.builder().port(0).start().block(DEADLINE);
    int port = server.port();
    client = client(port);
    client.start().block(DEADLINE);
    BlockingQueue<KvWatchEvent> events = new LinkedBlockingQueue<>();
    watching = client.kvWatch("cfg/").subscribe(events::add);
    assertThat(next(events).hasSnapshot()).isTrue();
    client.kvPut("cfg/a", ByteString.copyFromUtf8("1"), null).block(DEADLINE);
    KvWatchEvent put = next(events);
    assertThat(put.getPut().getKey()).isEqualTo("cfg/a");

    server.closeNow(DEADLINE);
    server = NameServer.builder().port(port).initialRevision(0).start().block(DEADLINE);

    KvWatchEvent resync = next(events);
    assertThat(resync.hasSnapshot()).isTrue();
    assertThat(resync.getRevision()).isLessThan(put.getRevision());
    client.kvPut("cfg/b", ByteString.copyFromUtf8("2"), null).block(DEADLINE);
    KvWatchEvent afterResync = next(events);
    assertThat(afterResync.getPut().getKey()).isEqualTo("cfg/b");
    assertThat(afterResync.getRevision()).isGreaterThan(resync.getRevision());
  }

  private static <T> T next(BlockingQueue<T> events) throws InterruptedException {
    T event = events.poll(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
    assertThat(event).as("an event within %s", DEADLINE).isNotNull();
    return event;
  }

  private static Instance instance(String url) {
    return Instance.newBuilder()
        .setUrl(url)
        .setAddress("127.0.0.1:1")
        .setProcessId("test-process")
        .build();
  }

  private static NameServerClient client(int port) {
    return new NameServerClient(
        NameServerClientConfig.of(
                "game",
                List.of(InetSocketAddress.createUnresolved("127.0.0.1", port)),
                Duration.ofSeconds(2))
            .withReconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200)));
  }
}

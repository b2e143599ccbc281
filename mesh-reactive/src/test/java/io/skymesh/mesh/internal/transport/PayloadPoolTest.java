package io.skymesh.mesh.internal.transport;

import static io.skymesh.mesh.TestMeshes.register;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.TestMeshes;
import io.skymesh.mesh.rpc.Methods;
import io.skymesh.mesh.rpc.Reply;
import io.skymesh.testkit.LeakCheck;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import reactor.core.publisher.Mono;
import reactor.netty.resources.LoopResources;
import reactor.test.StepVerifier;

/**
 * The per-thread pool of payload arrays: a lease released on its own thread is reused, one released
 * elsewhere becomes garbage, the pool keeps a bounded number of arrays, a double release is
 * refused, a lease never released is reported by Netty's leak detector, and over real connections a
 * loop reuses the arrays of the requests, replies and messages it received.
 */
class PayloadPoolTest {

  private static final Duration DEADLINE = TestMeshes.DEADLINE;

  private TestMeshes fixture;

  @BeforeEach
  void start() {
    fixture = TestMeshes.withNameServer();
  }

  @AfterEach
  void stop() {
    fixture.close();
  }

  @Test
  void anArrayReleasedOnItsOwnThreadIsLeasedAgainAndTheSizeClassesRoundUp() {
    PooledPayload first = PayloadPool.lease(1000);
    byte[] array = first.array();
    first.release();
    PooledPayload second = PayloadPool.lease(1024);
    PooledPayload longer = PayloadPool.lease(1025);
    PooledPayload shortest = PayloadPool.lease(1);
    PooledPayload largest = PayloadPool.lease(PayloadPool.LARGEST);
    try {
      assertThat(second.array()).isSameAs(array).hasSize(1024);
      assertThat(longer.capacity()).isEqualTo(2048);
      assertThat(shortest.capacity()).isEqualTo(PayloadPool.SMALLEST);
      assertThat(largest.capacity()).isEqualTo(PayloadPool.LARGEST);
      assertThat(PayloadPool.lease(PayloadPool.LARGEST + 1)).isNull();
    } finally {
      second.release();
      longer.release();
      shortest.release();
      largest.release();
    }
  }

  @Test
  void anArrayReleasedOnAnotherThreadIsLeftToTheCollector() {
    PooledPayload leased = PayloadPool.lease(4000);
    long created = PayloadPool.current().created();

    CompletableFuture.runAsync(leased::release).join();
    PooledPayload next = PayloadPool.lease(4000);
    next.release();

    assertThat(next).isNotSameAs(leased);
    assertThat(PayloadPool.current().created()).isEqualTo(created + 1);
  }

  /** 1 MiB of free arrays per size, but never fewer than 256 arrays. */
  @ParameterizedTest
  @CsvSource({"1024, 1024", "4096, 256", "16384, 256", "65536, 256"})
  void aThreadKeepsABoundedNumberOfFreeArraysPerSize(int capacity, int keepable) throws Exception {
    int kept =
        onAThreadOfItsOwn(
            () -> {
              releaseAll(leaseMany(capacity, keepable + 5));
              return PayloadPool.current().kept();
            });

    assertThat(kept).isEqualTo(keepable);
  }

  @Test
  void aThreadKeepsAtMostSixteenMebibytesOfFreeArraysInAll() throws Exception {
    long[] keptBytesAndArrays =
        onAThreadOfItsOwn(
            () -> {
              List<PooledPayload> large = leaseMany(PayloadPool.LARGEST, 200);
              List<PooledPayload> smaller = leaseMany(PayloadPool.LARGEST / 2, 200);
              releaseAll(large);
              releaseAll(smaller);
              PayloadPool pool = PayloadPool.current();
              return new long[] {pool.keptBytes(), pool.kept()};
            });

    assertThat(keptBytesAndArrays[0]).isEqualTo(PayloadPool.KEPT_BYTES_AT_MOST);
    assertThat(keptBytesAndArrays[1]).isEqualTo(200 + 112);
  }

  private static List<PooledPayload> leaseMany(int capacity, int count) {
    List<PooledPayload> leased = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      leased.add(PayloadPool.lease(capacity));
    }
    return leased;
  }

  private static void releaseAll(List<PooledPayload> leased) {
    leased.forEach(PooledPayload::release);
  }

  /** Runs {@code work} on a new thread, whose pool nothing else has used. */
  private static <T> T onAThreadOfItsOwn(Callable<T> work) throws Exception {
    ExecutorService thread = Executors.newSingleThreadExecutor();
    try {
      return thread.submit(work).get(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
    } finally {
      thread.shutdown();
    }
  }

  @Test
  void aSecondReleaseIsRefused() {
    PooledPayload leased = PayloadPool.lease(300);
    leased.release();

    assertThatThrownBy(leased::release)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("released twice");
  }

  @Test
  void aLeaseNeverReleasedIsReportedAsALeak() {
    leaseAndForget();

    List<String> leaks = LeakCheck.collectLeaks();

    assertThat(leaks).hasSize(1);
    assertThat(leaks.get(0)).contains("PooledPayload.release() was not called");
  }

  private static void leaseAndForget() {
    PayloadPool.lease(512).array()[0] = 1;
  }

  @Test
  void overRealConnectionsEachLoopReusesTheArraysOfWhatItReceived() {
    LoopResources serverLoops = LoopResources.create("pool-server-peers", 1, true);
    LoopResources clientLoops = LoopResources.create("pool-client-peers", 1, true);
    ServiceUrl echo = ServiceUrl.parse("game.zone1.echo/1");
    try {
      Mesh serverMesh = fixture.mesh(b -> b.runOn(serverLoops).pooledPayloads(true));
      register(
          serverMesh,
          echo.toString(),
          Methods.builder().add("Echo", request -> Mono.just(Reply.of(request.payload()))).build());
      Mesh clientMesh = fixture.mesh(b -> b.runOn(clientLoops).pooledPayloads(true));
      MeshService client = register(clientMesh, "game.zone1.client/1");
      int calls = 20;

      for (int i = 0; i < calls; i++) {
        ByteString payload = randomPayload(i);
        StepVerifier.create(client.request(echo, "Echo", payload).map(Reply::payload))
            .expectNext(payload)
            .expectComplete()
            .verify(DEADLINE);
      }

      // One call at a time: each request's array is back before the next request is read (the
      // reply's write completes on the loop first), and each reply's before the next reply.
      assertThat(createdOn(serverLoops)).isBetween(1L, 2L);
      assertThat(createdOn(clientLoops)).isBetween(1L, 2L);
      clientMesh.close().block(DEADLINE);
      serverMesh.close().block(DEADLINE);
    } finally {
      clientLoops.disposeLater().block(DEADLINE);
      serverLoops.disposeLater().block(DEADLINE);
    }
  }

  @Test
  void overRealConnectionsALoopReusesTheArraysOfTheMessagesItReceived() {
    LoopResources receiverLoops = LoopResources.create("pool-receiver-peers", 1, true);
    ServiceUrl chat = ServiceUrl.parse("game.zone1.chat/1");
    try {
      Mesh receiverMesh = fixture.mesh(b -> b.runOn(receiverLoops).pooledPayloads(true));
      List<ByteString> received = new CopyOnWriteArrayList<>();
      register(
          receiverMesh,
          chat.toString(),
          message -> {
            received.add(ByteString.copyFrom(message.payload().toByteArray()));
            return Mono.empty();
          });
      MeshService sender = register(fixture.mesh(), "game.zone1.lobby/1");
      int messages = 20;

      for (int i = 0; i < messages; i++) {
        ByteString payload = randomPayload(i);
        sender.sendTo(chat, payload).block(DEADLINE);
        int arrived = i + 1;
        await().atMost(DEADLINE).until(() -> received.size() == arrived);
        assertThat(received.get(i)).isEqualTo(payload);
      }

      // One message at a time, handled at once: each array is back before the next is leased.
      assertThat(createdOn(receiverLoops)).isOne();
      receiverMesh.close().block(DEADLINE);
    } finally {
      receiverLoops.disposeLater().block(DEADLINE);
    }
  }

  private static long createdOn(LoopResources loops) {
    return Mono.fromFuture(
            CompletableFuture.supplyAsync(
                () -> PayloadPool.current().created(), loops.onServer(true).next()))
        .block(DEADLINE);
  }

  private static ByteString randomPayload(int seed) {
    byte[] bytes = new byte[1024];
    new Random(seed).nextBytes(bytes);
    return ByteString.copyFrom(bytes);
  }
}

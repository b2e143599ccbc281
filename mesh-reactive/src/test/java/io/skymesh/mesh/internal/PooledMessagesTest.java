package io.skymesh.mesh.internal;

import static io.skymesh.mesh.TestMeshes.DEADLINE;
import static io.skymesh.mesh.TestMeshes.register;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import io.skymesh.mesh.Message;
import io.skymesh.mesh.TestMeshes;
import io.skymesh.mesh.Undelivered;
import io.skymesh.mesh.internal.transport.PeerConnection;
import io.skymesh.mesh.internal.transport.PeerTransport;
import io.skymesh.proto.Data;
import io.skymesh.proto.PeerFrame;
import io.skymesh.proto.StatusCode;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Schedulers;
import reactor.netty.resources.LoopResources;

/**
 * Messages with pooled payloads ({@code MeshBuilder.pooledPayloads}): a handler's payload stays
 * valid until its {@code Mono} has ended while later frames reuse pooled memory, and every way a
 * message ends (handled, queued then handled, refused at the lane, failed, refused before it)
 * releases its array: Netty's paranoid leak detector, which tracks the arrays, fails the test
 * otherwise. Payloads are 1 KiB, well past the smallest pooled size.
 */
class PooledMessagesTest {

  private static final int SIZE = 1024;
  private static final String SENDER = "game.zone1.lobby/1";
  private static final ServiceUrl CHAT = ServiceUrl.parse("game.zone1.chat/1");

  private final TestMeshes fixture = TestMeshes.withNameServer();
  private PeerTransport raw;

  @AfterEach
  void closeEverything() {
    if (raw != null) {
      raw.close().block(DEADLINE);
    }
    fixture.close();
  }

  @Test
  void aHandlerReadsItsPayloadWhenItsMonoEndsWhileLaterMessagesArrive() {
    Mesh receiver = fixture.mesh(b -> b.pooledPayloads(true));
    Map<Long, ByteString> seen = new ConcurrentHashMap<>();
    register(
        receiver,
        CHAT.toString(),
        message ->
            Mono.delay(Duration.ofMillis(2))
                // Read after later frames were decoded into pooled arrays released before them.
                .doOnNext(tick -> seen.put(sequenceOf(message), copy(message)))
                .then());
    MeshService sender = register(fixture.mesh(b -> b.pooledPayloads(true)), SENDER);
    int count = 64;

    Flux.range(0, count).flatMap(i -> sender.sendTo(CHAT, payload(i)), 16).then().block(DEADLINE);

    await().atMost(DEADLINE).until(() -> seen.size() == count);
    LongStream.range(0, count).forEach(i -> assertThat(seen.get(i)).isEqualTo(payload(i)));
    assertThat(sender.undeliveredCount()).isZero();
  }

  @Test
  void queuedMessagesKeepTheirPayloadsAndRefusedOnesAreReleasedAndReported() {
    Mesh receiver =
        fixture.mesh(
            b ->
                b.pooledPayloads(true)
                    .pingInterval(Duration.ZERO)
                    .inboundQueuePerService(4)
                    .inboundHold(Duration.ofMillis(50)));
    DefaultMesh defaultReceiver = (DefaultMesh) receiver;
    Sinks.Empty<Void> gate = Sinks.empty();
    Map<Long, ByteString> handled = new ConcurrentHashMap<>();
    register(
        receiver,
        CHAT.toString(),
        message ->
            gate.asMono()
                .then(Mono.fromRunnable(() -> handled.put(sequenceOf(message), copy(message)))));
    MeshService sender =
        register(fixture.mesh(b -> b.pooledPayloads(true).pingInterval(Duration.ZERO)), SENDER);
    List<Undelivered> reports = new CopyOnWriteArrayList<>();
    sender.undelivered().subscribe(reports::add);
    int count = 40;
    // One running, four queued; the sixth is held 50 ms, then refused with every one after it,
    // since the gate keeps the queue full.
    int taken = 5;

    Flux.range(0, count).concatMap(i -> sender.sendTo(CHAT, payload(i))).then().block(DEADLINE);
    await()
        .atMost(DEADLINE)
        .until(
            () ->
                defaultReceiver.dataPlane().dropped(StatusCode.RESOURCE_EXHAUSTED)
                    == count - taken);
    gate.tryEmitEmpty();

    await()
        .atMost(DEADLINE)
        .until(() -> handled.size() == taken && reports.size() == count - taken);
    LongStream.range(0, taken).forEach(i -> assertThat(handled.get(i)).isEqualTo(payload(i)));
    assertThat(reports)
        .allSatisfy(report -> assertThat(report.reason().getMessage()).contains("is behind"));
  }

  @Test
  void failedMessagesAndMessagesRefusedBeforeTheirLaneAreReleasedAndReported() {
    DefaultMesh receiver = (DefaultMesh) fixture.mesh(b -> b.pooledPayloads(true));
    Queue<Long> received = new ConcurrentLinkedQueue<>();
    register(
        receiver,
        CHAT.toString(),
        message -> {
          long sequence = sequenceOf(message);
          received.add(sequence);
          if (sequence == 0) {
            throw new IllegalStateException("thrown");
          }
          if (sequence == 1) {
            return Mono.error(new IllegalStateException("signalled at once"));
          }
          if (sequence == 2) {
            return Mono.delay(Duration.ofMillis(1))
                .then(Mono.error(new IllegalStateException("signalled later")));
          }
          return Mono.empty();
        });
    Queue<PeerFrame> heard = new ConcurrentLinkedQueue<>();

    PeerConnection toReceiver = sendFourThenOneToNobody(receiver, heard);
    toReceiver.send(data("not a service url", 5)).block(DEADLINE);

    await()
        .atMost(DEADLINE)
        .until(() -> heard.stream().filter(PeerFrame::hasUndelivered).count() == 5);
    // Message 2's report is written before its lane runs message 3.
    await().atMost(DEADLINE).until(() -> received.size() == 4);
    assertThat(received).containsExactly(0L, 1L, 2L, 3L);
    assertThat(heard)
        .filteredOn(PeerFrame::hasUndelivered)
        .extracting(frame -> frame.getUndelivered().getStatus().getCode())
        .containsExactlyInAnyOrder(
            StatusCode.UNKNOWN,
            StatusCode.UNKNOWN,
            StatusCode.UNKNOWN,
            StatusCode.NOT_FOUND,
            StatusCode.INVALID_ARGUMENT);
  }

  /**
   * A handler's {@code Mono} that ends on another thread while the event loop is still inside its
   * {@code subscribe}: the lane must neither take that for an end inside {@code subscribe} (which
   * the loop may already have ruled out, so the lane would wait for good) nor miss it.
   */
  @Test
  void handlersWhoseMonosEndOnAnotherThreadDuringTheirSubscribeDoNotStallTheirLane() {
    DefaultMesh receiver = (DefaultMesh) fixture.mesh(b -> b.pooledPayloads(true));
    int count = 64;
    Queue<Long> received = new ConcurrentLinkedQueue<>();
    register(
        receiver,
        CHAT.toString(),
        message -> {
          long sequence = sequenceOf(message);
          received.add(sequence);
          return Mono.create(
              sink -> {
                AtomicBoolean signalling = new AtomicBoolean();
                Schedulers.parallel()
                    .schedule(
                        () -> {
                          signalling.set(true);
                          if (sequence % 2 == 0) {
                            sink.success();
                          } else {
                            sink.error(new IllegalStateException("signalled elsewhere"));
                          }
                        });
                // Still inside subscribe, on the event loop, until the other thread signals (a
                // bare spin: BlockHound counts Thread.onSpinWait as blocking).
                while (!signalling.get()) {
                  // spin
                }
              });
        });
    Queue<PeerFrame> heard = new ConcurrentLinkedQueue<>();
    raw = TestMeshes.hearing(heard);
    PeerConnection toReceiver = raw.connection(receiver.listenAddress()).block(DEADLINE);

    Flux.range(0, count)
        .concatMap(i -> toReceiver.send(data(CHAT.toString(), i)))
        .then()
        .block(DEADLINE);

    await().atMost(DEADLINE).until(() -> received.size() == count);
    await()
        .atMost(DEADLINE)
        .until(() -> heard.stream().filter(PeerFrame::hasUndelivered).count() == count / 2);
    assertThat(received).containsExactlyElementsOf(LongStream.range(0, count).boxed().toList());
    assertThat(receiver.dataPlane().dropped(StatusCode.UNKNOWN)).isEqualTo(count / 2);
  }

  @Test
  void aFailureAndTheMessagesQueuedBehindItWhenTheEventLoopIsGoneAreReleasedAndCounted() {
    LoopResources loops = LoopResources.create("lane-test", 1, true);
    DefaultMesh receiver = (DefaultMesh) fixture.mesh(b -> b.pooledPayloads(true).runOn(loops));
    Sinks.Empty<Void> gate = Sinks.empty();
    Queue<Long> received = new ConcurrentLinkedQueue<>();
    register(
        receiver,
        CHAT.toString(),
        message -> {
          received.add(sequenceOf(message));
          return gate.asMono();
        });
    Queue<PeerFrame> heard = new ConcurrentLinkedQueue<>();

    // The report of the fifth, read after the four, says they are in the lane: one running, three
    // queued.
    sendFourThenOneToNobody(receiver, heard);
    await().atMost(DEADLINE).until(() -> heard.stream().anyMatch(PeerFrame::hasUndelivered));
    assertThat(received).containsExactly(0L);

    receiver.close().block(DEADLINE);
    loops.disposeLater(Duration.ZERO, DEADLINE).block(DEADLINE);
    gate.tryEmitError(new IllegalStateException("failed with its loop gone"));

    assertThat(received).containsExactly(0L);
    assertThat(receiver.dataPlane().dropped(StatusCode.UNKNOWN)).isOne();
    assertThat(receiver.dataPlane().dropped(StatusCode.UNAVAILABLE)).isEqualTo(3);
    assertThat(receiver.dataPlane().reportsLost()).isEqualTo(4);
  }

  /**
   * Sends {@code receiver}, from a bare transport that adds what it hears to {@code heard},
   * messages 0 to 3 for {@link #CHAT}, then message 4 for a service registered nowhere.
   *
   * @return the bare transport's connection to {@code receiver}
   */
  private PeerConnection sendFourThenOneToNobody(DefaultMesh receiver, Queue<PeerFrame> heard) {
    raw = TestMeshes.hearing(heard);
    PeerConnection toReceiver = raw.connection(receiver.listenAddress()).block(DEADLINE);
    for (int i = 0; i < 4; i++) {
      toReceiver.send(data(CHAT.toString(), i)).block(DEADLINE);
    }
    toReceiver.send(data("game.zone1.nobody/1", 4)).block(DEADLINE);
    return toReceiver;
  }

  /** A 1 KiB payload: the sequence number, then bytes seeded by it. */
  private static ByteString payload(long i) {
    byte[] bytes = new byte[SIZE];
    new Random(i).nextBytes(bytes);
    ByteBuffer.wrap(bytes).putLong(0, i);
    return ByteString.copyFrom(bytes);
  }

  private static long sequenceOf(Message message) {
    return message.payload().asReadOnlyByteBuffer().getLong();
  }

  private static ByteString copy(Message message) {
    return ByteString.copyFrom(message.payload().toByteArray());
  }

  private static PeerFrame data(String destination, long i) {
    return PeerFrame.newBuilder()
        .setData(
            Data.newBuilder().setSource(SENDER).setDestination(destination).setPayload(payload(i)))
        .build();
  }
}

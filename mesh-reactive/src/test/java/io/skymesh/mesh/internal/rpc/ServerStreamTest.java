package io.skymesh.mesh.internal.rpc;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.MeshTimeoutException;
import io.skymesh.mesh.internal.metrics.MeshMetrics;
import io.skymesh.mesh.rpc.IncomingRequest;
import io.skymesh.mesh.rpc.Reply;
import io.skymesh.proto.PeerFrame;
import io.skymesh.proto.StatusCode;
import java.time.Duration;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Hooks;
import reactor.test.publisher.TestPublisher;

/**
 * The responder's side of a stream against its handler's signals: its work ends once, whichever of
 * its outcome and its disposal comes first, and a losing outcome is neither sent nor dropped.
 */
class ServerStreamTest {

  private static final long ID = 7;

  private final RecordingConnection connection = new RecordingConnection();
  private final AtomicInteger finished = new AtomicInteger();
  private final Queue<Throwable> dropped = new ConcurrentLinkedQueue<>();

  // A handler bounded by a deadline may signal its error after a cancel it has not seen yet
  // (Reactive Streams allows signals after cancel): the publisher keeps sending after cancel.
  private final TestPublisher<Reply> handler =
      TestPublisher.createNoncompliant(TestPublisher.Violation.DEFER_CANCELLATION);

  @BeforeEach
  void watchDroppedErrors() {
    Hooks.onErrorDropped(dropped::add);
  }

  @AfterEach
  void stopWatching() {
    Hooks.resetOnErrorDropped();
  }

  @Test
  void aDeadlineThatLosesToTheRequestersCancelIsNeitherSentNorDropped() {
    ServerStream stream = stream(4);
    handler.flux().subscribe(stream);
    handler.next(Reply.of(ByteString.copyFromUtf8("one")));

    stream.onCancel();
    MeshTimeoutException deadline = new MeshTimeoutException("the handler's deadline passed");
    handler.error(deadline);

    handler.assertCancelled();
    assertThat(dropped).doesNotContain(deadline);
    assertThat(connection.sent).extracting(PeerFrame::getBodyCase).containsExactly(ITEM);
    assertThat(finished).hasValue(1);
    assertThat(stream.isDisposed()).isTrue();
  }

  @Test
  void anOutcomeAfterAnAbortSendsNoSecondEnd() {
    ServerStream stream = stream(4);
    handler.flux().subscribe(stream);

    stream.onCredit(0); // the requester's fault: the stream is aborted
    handler.next(Reply.of(ByteString.copyFromUtf8("late")));
    handler.complete();

    handler.assertCancelled();
    assertThat(connection.sent).hasSize(1);
    PeerFrame end = connection.sent.peek();
    assertThat(end.getStreamEnd().getStatus().getCode()).isEqualTo(StatusCode.INVALID_ARGUMENT);
    assertThat(finished).hasValue(1);
  }

  @Test
  void theHandlersErrorEndsTheStreamWithItsStatusOnce() {
    ServerStream stream = stream(4);
    handler.flux().subscribe(stream);

    handler.error(new MeshTimeoutException("the handler's deadline passed"));
    stream.onCancel(); // too late: the stream has ended

    assertThat(connection.sent).hasSize(1);
    assertThat(connection.sent.peek().getStreamEnd().getStatus().getCode())
        .isEqualTo(StatusCode.DEADLINE_EXCEEDED);
    assertThat(finished).hasValue(1);
    assertThat(dropped).isEmpty();
  }

  @Test
  void creditIsPassedOnAsDemandAndADisposalBeforeSubscriptionCancelsTheHandler() {
    ServerStream stream = stream(2);
    handler.flux().subscribe(stream);
    handler.assertMinRequested(2);
    stream.onCredit(3);
    handler.assertMinRequested(5);

    ServerStream early = stream(2);
    TestPublisher<Reply> late = TestPublisher.create();
    early.onCancel();
    late.flux().subscribe(early);

    late.assertCancelled();
    assertThat(finished).hasValue(1);
  }

  private static final PeerFrame.BodyCase ITEM = PeerFrame.BodyCase.STREAM_ITEM;

  private ServerStream stream(long initialCredit) {
    IncomingRequest open =
        new IncomingRequest(
            ServiceUrl.parse("a.b.caller/1"),
            ServiceUrl.parse("a.b.streams/1"),
            "Stream",
            Map.of(),
            ByteString.EMPTY,
            Duration.ofSeconds(5),
            false);
    return new ServerStream(
        connection,
        ID,
        initialCredit,
        open,
        false,
        false,
        16,
        MeshMetrics.NONE,
        finished::incrementAndGet);
  }
}

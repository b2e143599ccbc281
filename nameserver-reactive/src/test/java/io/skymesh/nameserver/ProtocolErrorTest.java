package io.skymesh.nameserver;

import static io.skymesh.nameserver.RegistryTest.assertRemoved;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.skymesh.codec.Frames;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.StatusCode;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import reactor.test.StepVerifier;

/** A connection that breaks the framing is closed alone; every other session carries on. */
class ProtocolErrorTest extends NameServerTestSupport {

  private static final String LOBBY = "game.zone1.lobby";

  @Test
  void randomBytesCloseOnlyThatConnection() {
    NameServer server = start();
    TestClient watcher = open(server, "game");
    TestClient healthy = open(server, "game");
    TestClient attacker = open(server, "game");
    healthy.register(LOBBY + "/1", "127.0.0.1:7001").block(TIMEOUT);
    attacker.register(LOBBY + "/2", "127.0.0.1:7002").block(TIMEOUT);
    watcher.watchService(1, LOBBY, 0).block(TIMEOUT);

    byte[] garbage = new byte[512];
    new Random(42).nextBytes(garbage);
    garbage[0] = 0x7F; // a length far over the maximum
    attacker
        .connection()
        .outbound()
        .sendObject(Unpooled.wrappedBuffer(garbage))
        .then()
        .block(TIMEOUT);

    StepVerifier.create(attacker.frames().filter(NameServerFrame::hasError))
        .assertNext(
            frame -> {
              assertThat(frame.getError().getRequestId()).isZero();
              assertThat(frame.getError().getStatus().getCode())
                  .isEqualTo(StatusCode.RESOURCE_EXHAUSTED);
            })
        .expectComplete()
        .verify(TIMEOUT);
    StepVerifier.create(watcher.events(1).skip(1).next())
        .assertNext(event -> assertRemoved(event, LOBBY + "/2", "session closed"))
        .expectComplete()
        .verify(TIMEOUT);
    assertThat(healthy.keepAlive().block(TIMEOUT)).isNotNull();
    assertThat(healthy.register(LOBBY + "/3", "127.0.0.1:7003").block(TIMEOUT)).isNotNull();
    assertThat(WatchResumeTest.truth(server, LOBBY).keySet())
        .containsExactly(LOBBY + "/1", LOBBY + "/3");
  }

  @Test
  void oversizedFrameIsResourceExhausted() {
    NameServer server = start(b -> b.maxFrameLength(1024));
    TestClient other = open(server, "game");
    TestClient big = open(server, "game");

    big.send(
            TestClient.register(LOBBY + "/1", "127.0.0.1:7000", Map.of("blob", "x".repeat(2000)))
                .setRequestId(5)
                .build())
        .block(TIMEOUT);

    StepVerifier.create(big.frames().filter(NameServerFrame::hasError))
        .assertNext(
            frame -> {
              assertThat(frame.getError().getRequestId()).isZero();
              assertThat(frame.getError().getStatus().getCode())
                  .isEqualTo(StatusCode.RESOURCE_EXHAUSTED);
              assertThat(frame.getError().getStatus().getMessage()).contains("1024");
            })
        .expectComplete()
        .verify(TIMEOUT);
    StepVerifier.create(big.connection().onDispose()).expectComplete().verify(TIMEOUT);
    assertThat(other.register(LOBBY + "/2", "127.0.0.1:7000").block(TIMEOUT)).isNotNull();
  }

  @Test
  void corruptBodyIsDataLoss() {
    NameServer server = start();
    TestClient other = open(server, "game");
    TestClient corrupt = connect(server);

    // Field 2 (open_session), length-delimited, claiming 127 bytes where there is one.
    ByteBuf frame = Unpooled.buffer().writeInt(3).writeBytes(new byte[] {0x12, 0x7F, 0x01});
    corrupt.connection().outbound().sendObject(frame).then().block(TIMEOUT);

    StepVerifier.create(corrupt.frames())
        .assertNext(
            answer -> {
              assertThat(answer.getError().getRequestId()).isZero();
              assertThat(answer.getError().getStatus().getCode()).isEqualTo(StatusCode.DATA_LOSS);
            })
        .expectComplete()
        .verify(TIMEOUT);
    assertThat(other.keepAlive().block(TIMEOUT)).isNotNull();
  }

  @Test
  void connectionCutMidFrameEndsItsSession() {
    NameServer server = start();
    TestClient watcher = open(server, "game");
    TestClient cut = open(server, "game");
    cut.register(LOBBY + "/1", "127.0.0.1:7000").block(TIMEOUT);
    watcher.watchService(1, LOBBY, 0).block(TIMEOUT);

    NameClientFrame keepAlive =
        NameClientFrame.newBuilder()
            .setRequestId(99)
            .setKeepAlive(io.skymesh.proto.KeepAlive.getDefaultInstance())
            .build();
    ByteBuf whole = Frames.encode(ByteBufAllocator.DEFAULT, keepAlive, 1024);
    ByteBuf half = whole.retainedSlice(0, whole.readableBytes() - 1);
    whole.release();
    cut.connection().outbound().sendObject(half).then().block(TIMEOUT);
    cut.close();

    StepVerifier.create(watcher.events(1).skip(1).next())
        .assertNext(event -> assertRemoved(event, LOBBY + "/1", "session closed"))
        .expectComplete()
        .verify(TIMEOUT);
  }
}

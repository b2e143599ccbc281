package io.skymesh.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.skymesh.proto.GoAway;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.PeerFrame;
import io.skymesh.proto.Status;
import io.skymesh.proto.StatusCode;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class FrameDecoderTest {

  private static final int MAX = 1024;

  private final List<Throwable> errors = new ArrayList<>();
  private EmbeddedChannel channel;

  @AfterEach
  void releaseChannel() {
    if (channel != null) {
      channel.finishAndReleaseAll();
    }
  }

  @Test
  void everyPeerFrameTypeRoundTrips() {
    channel = peerChannel(Frames.DEFAULT_MAX_FRAME_LENGTH);
    for (PeerFrame frame : SampleFrames.everyPeerFrameType()) {
      channel.writeInbound(Frames.encode(ByteBufAllocator.DEFAULT, frame, MAX * 4));
      assertThat((Object) channel.readInbound()).isEqualTo(frame);
    }
    assertThat(errors).isEmpty();
  }

  @Test
  void everyBodyKindOfTheNameServerProtocolRoundTrips() {
    EmbeddedChannel clientSide =
        new EmbeddedChannel(new FrameDecoder<>(NameClientFrame.parser(), MAX));
    EmbeddedChannel serverSide =
        new EmbeddedChannel(new FrameDecoder<>(NameServerFrame.parser(), MAX));
    try {
      for (NameClientFrame frame : SampleFrames.someNameClientFrames()) {
        clientSide.writeInbound(Frames.encode(ByteBufAllocator.DEFAULT, frame, MAX));
        assertThat((Object) clientSide.readInbound()).isEqualTo(frame);
      }
      for (NameServerFrame frame : SampleFrames.someNameServerFrames()) {
        serverSide.writeInbound(Frames.encode(ByteBufAllocator.DEFAULT, frame, MAX));
        assertThat((Object) serverSide.readInbound()).isEqualTo(frame);
      }
    } finally {
      clientSide.finishAndReleaseAll();
      serverSide.finishAndReleaseAll();
    }
  }

  @Test
  void inputFedOneByteAtATimeDecodes() {
    channel = peerChannel(Frames.DEFAULT_MAX_FRAME_LENGTH);
    List<PeerFrame> frames = SampleFrames.everyPeerFrameType();
    ByteBuf all = SampleFrames.encodeAll(frames);
    try {
      while (all.isReadable()) {
        channel.writeInbound(all.readRetainedSlice(1));
      }
    } finally {
      all.release();
    }
    assertThat(readAll()).containsExactlyElementsOf(frames);
    assertThat(errors).isEmpty();
  }

  @Test
  void thousandFramesInOneBufferDecodeInOrder() {
    channel = peerChannel(Frames.DEFAULT_MAX_FRAME_LENGTH);
    List<PeerFrame> frames = new ArrayList<>();
    for (int i = 0; i < 1000; i++) {
      frames.add(SampleFrames.data("a.b.c/" + i, "a.b.d/1", i % 100));
    }

    channel.writeInbound(SampleFrames.encodeAll(frames));

    assertThat(readAll()).containsExactlyElementsOf(frames);
    assertThat(errors).isEmpty();
  }

  @Test
  void bodyOfExactlyTheMaximumDecodes() {
    channel = peerChannel(MAX);
    PeerFrame frame = SampleFrames.dataWithBodyLength(MAX);

    channel.writeInbound(Frames.encode(ByteBufAllocator.DEFAULT, frame, MAX));

    assertThat((Object) channel.readInbound()).isEqualTo(frame);
    assertThat(channel.isActive()).isTrue();
  }

  @Test
  void bodyOfTheMaximumPlusOneIsTooLargeAndClosesTheConnection() {
    channel = peerChannel(MAX);
    PeerFrame frame = SampleFrames.dataWithBodyLength(MAX + 1);

    channel.writeInbound(Frames.encode(ByteBufAllocator.DEFAULT, frame, MAX + 1));

    assertThat(errors).singleElement().isInstanceOf(FrameTooLargeException.class);
    FrameTooLargeException error = (FrameTooLargeException) errors.get(0);
    assertThat(error.frameLength()).isEqualTo(MAX + 1);
    assertThat(error.maxFrameLength()).isEqualTo(MAX);
    assertThat((Object) channel.readInbound()).isNull();
    assertThat(channel.isOpen()).isFalse();
  }

  @Test
  void lengthOfAllOnesIsTooLargeWithoutWaitingForTheBody() {
    channel = peerChannel(MAX);

    channel.writeInbound(
        Unpooled.wrappedBuffer(new byte[] {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 1}));

    assertThat(errors).singleElement().isInstanceOf(FrameTooLargeException.class);
    assertThat(((FrameTooLargeException) errors.get(0)).frameLength()).isEqualTo(0xFFFFFFFFL);
    assertThat(channel.isOpen()).isFalse();
  }

  @Test
  void corruptBodyIsACorruptFrameAndClosesTheConnection() {
    channel = peerChannel(MAX);
    ByteBuf frame = Unpooled.buffer().writeInt(3).writeBytes(new byte[] {0x12, 0x7F, 0x01});

    channel.writeInbound(frame);

    assertThat(errors).singleElement().isInstanceOf(CorruptFrameException.class);
    assertThat(errors.get(0)).hasMessageContaining("3 bytes does not parse");
    assertThat(channel.isOpen()).isFalse();
  }

  @Test
  void endGroupTagAtTheTopLevelIsCorruptInDirectAndHeapBuffers() {
    for (ByteBuf frame :
        List.of(
            ByteBufAllocator.DEFAULT.directBuffer().writeInt(1).writeByte(0x0C),
            ByteBufAllocator.DEFAULT.heapBuffer().writeInt(1).writeByte(0x0C))) {
      errors.clear();
      EmbeddedChannel fresh = peerChannel(MAX);
      fresh.writeInbound(frame);
      assertThat(errors).singleElement().isInstanceOf(CorruptFrameException.class);
      fresh.finishAndReleaseAll();
    }
  }

  @Test
  void payloadOfADirectBufferOutlivesTheBuffer() {
    channel = peerChannel(MAX);
    PeerFrame frame = SampleFrames.data("a.b.c/1", "a.b.d/1", 500);
    ByteBuf direct = ByteBufAllocator.DEFAULT.directBuffer();
    Frames.encode(frame, direct, MAX);

    channel.writeInbound(direct);
    PeerFrame decoded = channel.readInbound();

    assertThat(direct.refCnt()).isZero();
    assertThat(decoded).isEqualTo(frame);
  }

  @Test
  void framesBeforeAnErrorAreDeliveredAndBytesAfterItAreDiscarded() {
    channel = peerChannel(MAX);
    PeerFrame good = SampleFrames.data("a.b.c/1", "a.b.d/1", 10);
    ByteBuf input = ByteBufAllocator.DEFAULT.buffer();
    Frames.encode(good, input, MAX);
    input.writeInt(2).writeShort(0);
    Frames.encode(good, input, MAX);

    channel.writeInbound(input);

    assertThat(readAll()).containsExactly(good);
    assertThat(errors).singleElement().isInstanceOf(CorruptFrameException.class);
  }

  @Test
  void streamCutMidFrameIsTruncated() {
    channel = peerChannel(MAX);
    ByteBuf frame =
        Frames.encode(ByteBufAllocator.DEFAULT, SampleFrames.data("a.b.c/1", "a.b.d/1", 100), MAX);
    int cut = frame.readableBytes() / 2;
    channel.writeInbound(frame.retainedSlice(0, cut));
    frame.release();

    channel.close();

    assertThat(errors).singleElement().isInstanceOf(TruncatedFrameException.class);
    assertThat(((TruncatedFrameException) errors.get(0)).bytesPending()).isEqualTo(cut);
    assertThat((Object) channel.readInbound()).isNull();
  }

  @Test
  void aFrameCutByThisSidesOwnCloseIsNoError() {
    channel = peerChannel(MAX);
    ByteBuf frame =
        Frames.encode(ByteBufAllocator.DEFAULT, SampleFrames.data("a.b.c/1", "a.b.d/1", 100), MAX);
    channel.writeInbound(frame.retainedSlice(0, frame.readableBytes() / 2));
    frame.release();

    channel.pipeline().get(FrameDecoder.class).closingHere();
    channel.close();

    assertThat(errors).isEmpty();
    assertThat((Object) channel.readInbound()).isNull();
  }

  @Test
  void cleanEndBetweenFramesIsNoError() {
    channel = peerChannel(MAX);
    channel.writeInbound(
        Frames.encode(ByteBufAllocator.DEFAULT, SampleFrames.data("a.b.c/1", "a.b.d/1", 5), MAX));

    channel.close();

    assertThat(readAll()).hasSize(1);
    assertThat(errors).isEmpty();
  }

  @Test
  void lastWordsFrameIsWrittenBeforeTheConnectionCloses() {
    channel =
        new EmbeddedChannel(
            new FrameDecoder<>(
                PeerFrame.parser(),
                MAX,
                error ->
                    PeerFrame.newBuilder()
                        .setGoAway(
                            GoAway.newBuilder()
                                .setStatus(
                                    Status.newBuilder()
                                        .setCode(StatusCode.DATA_LOSS)
                                        .setMessage(error.getMessage())))
                        .build()),
            new ErrorRecorder());

    channel.writeInbound(Unpooled.buffer().writeInt(1).writeByte(0));

    ByteBuf written = channel.readOutbound();
    try {
      PeerFrame lastWords = Frames.parseBody(PeerFrame.parser(), written, 4, written.getInt(0));
      assertThat(lastWords.getGoAway().getStatus().getCode()).isEqualTo(StatusCode.DATA_LOSS);
      assertThat(lastWords.getGoAway().getStatus().getMessage()).contains("does not parse");
    } finally {
      written.release();
    }
    assertThat(channel.isOpen()).isFalse();
  }

  @Test
  void maximumFrameLengthIsChecked() {
    assertThatThrownBy(() -> new FrameDecoder<>(PeerFrame.parser(), 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maxFrameLength: 0 (expected: 1..2147483643)");
    assertThatThrownBy(() -> new FrameDecoder<>(null, 1))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("parser");
  }

  private EmbeddedChannel peerChannel(int maxFrameLength) {
    return new EmbeddedChannel(
        new FrameDecoder<>(PeerFrame.parser(), maxFrameLength), new ErrorRecorder());
  }

  private List<PeerFrame> readAll() {
    List<PeerFrame> frames = new ArrayList<>();
    for (PeerFrame frame; (frame = channel.readInbound()) != null; ) {
      frames.add(frame);
    }
    return frames;
  }

  /** Records the exceptions that reach the end of the pipeline instead of failing the channel. */
  private final class ErrorRecorder extends ChannelInboundHandlerAdapter {
    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      errors.add(cause);
    }
  }
}

package io.skymesh.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.CodedOutputStream;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.embedded.EmbeddedChannel;
import io.skymesh.proto.PeerFrame;
import org.junit.jupiter.api.Test;

class FrameEncoderTest {

  @Test
  void encodesLengthAndBodyIntoOneBuffer() {
    EmbeddedChannel channel = new EmbeddedChannel(new FrameEncoder(1024));
    PeerFrame frame = SampleFrames.data("a.b.c/1", "a.b.d/2", 100);
    try {
      channel.writeOutbound(frame);

      ByteBuf written = channel.readOutbound();
      try {
        assertThat(written.readableBytes()).isEqualTo(4 + frame.getSerializedSize());
        assertThat(written.readInt()).isEqualTo(frame.getSerializedSize());
        assertThat(ByteBufUtil.getBytes(written)).isEqualTo(frame.toByteArray());
      } finally {
        written.release();
      }
    } finally {
      channel.finishAndReleaseAll();
    }
  }

  @Test
  void framesWrittenBackToBackThroughOneCodedOutputStreamAreTheEncodersBytes() throws Exception {
    PeerFrame first = SampleFrames.data("a.b.c/1", "a.b.d/2", 100);
    PeerFrame second = SampleFrames.data("a.b.c/1", "a.b.d/3", 300);
    byte[] batch = new byte[8 + first.getSerializedSize() + second.getSerializedSize()];
    CodedOutputStream out = CodedOutputStream.newInstance(batch);

    Frames.encode(first, first.getSerializedSize(), out);
    Frames.encode(second, second.getSerializedSize(), out);
    out.flush();

    ByteBuf expected = Unpooled.buffer();
    try {
      Frames.encode(first, expected, 1024);
      Frames.encode(second, expected, 1024);
      assertThat(out.spaceLeft()).isZero();
      assertThat(batch).isEqualTo(ByteBufUtil.getBytes(expected));
    } finally {
      expected.release();
    }
  }

  @Test
  void messageOverTheMaximumFailsItsWriteAndTheConnectionStaysOpen() {
    EmbeddedChannel channel = new EmbeddedChannel(new FrameEncoder(64));
    try {
      ChannelFuture write = channel.writeAndFlush(SampleFrames.data("a.b.c/1", "a.b.d/2", 100));

      assertThat(write.cause()).isInstanceOf(FrameTooLargeException.class);
      assertThat((Object) channel.readOutbound()).isNull();
      assertThat(channel.isActive()).isTrue();
      channel.writeOutbound(SampleFrames.data("a.b.c/1", "a.b.d/2", 1));
      ByteBuf written = channel.readOutbound();
      written.release();
    } finally {
      channel.finishAndReleaseAll();
    }
  }

  @Test
  void buffersPassThroughUnchanged() {
    EmbeddedChannel channel = new EmbeddedChannel(new FrameEncoder(64));
    try {
      channel.writeOutbound(Unpooled.wrappedBuffer(new byte[] {1, 2, 3}));

      ByteBuf written = channel.readOutbound();
      assertThat(ByteBufUtil.getBytes(written)).containsExactly(1, 2, 3);
      written.release();
    } finally {
      channel.finishAndReleaseAll();
    }
  }

  @Test
  void encodeIntoHeapDirectAndCompositeBuffersGivesTheSameBytes() {
    PeerFrame frame = SampleFrames.data("a.b.c/1", "a.b.d/2", 300);
    ByteBuf heap = ByteBufAllocator.DEFAULT.heapBuffer();
    ByteBuf direct = ByteBufAllocator.DEFAULT.directBuffer();
    CompositeByteBuf composite = ByteBufAllocator.DEFAULT.compositeBuffer();
    composite.addComponent(true, ByteBufAllocator.DEFAULT.directBuffer(8).writeLong(7));
    composite.addComponent(true, ByteBufAllocator.DEFAULT.directBuffer(8));
    try {
      Frames.encode(frame, heap, 1024);
      Frames.encode(frame, direct, 1024);
      composite.skipBytes(8);
      Frames.encode(frame, composite, 1024);

      assertThat(ByteBufUtil.getBytes(direct)).isEqualTo(ByteBufUtil.getBytes(heap));
      assertThat(ByteBufUtil.getBytes(composite)).isEqualTo(ByteBufUtil.getBytes(heap));
      assertThat(
              Frames.parseBody(
                  PeerFrame.parser(),
                  composite,
                  composite.readerIndex() + 4,
                  frame.getSerializedSize()))
          .isEqualTo(frame);
    } finally {
      heap.release();
      direct.release();
      composite.release();
    }
  }

  @Test
  void staticEncodeRefusesTooLargeWithoutAllocating() {
    assertThatThrownBy(
            () ->
                Frames.encode(
                    ByteBufAllocator.DEFAULT, SampleFrames.data("a.b.c/1", "a.b.d/2", 100), 10))
        .isInstanceOf(FrameTooLargeException.class)
        .hasMessageContaining("over the maximum of 10");
  }
}

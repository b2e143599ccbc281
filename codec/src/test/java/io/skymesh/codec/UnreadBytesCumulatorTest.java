package io.skymesh.codec;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import io.skymesh.proto.PeerFrame;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.DoubleRange;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/**
 * The frame decoder's cumulator: a partial frame carried into the next read keeps only its unread
 * bytes, the buffers handed in are released, and frames split anywhere, into buffers with or
 * without room to spare, decode to themselves.
 */
class UnreadBytesCumulatorTest {

  private static final ByteBufAllocator ALLOC = PooledByteBufAllocator.DEFAULT;

  @Example
  void aFullBufferWithAPartialFrameIsReplacedByOneHoldingOnlyItsUnreadBytesAndTheNewOnes() {
    ByteBuf cumulation = filled(ALLOC.buffer(4096), 4096, 1);
    cumulation.readerIndex(4000); // 96 bytes of a frame not decoded yet
    ByteBuf in = filled(ALLOC.buffer(4096), 4096, 2);
    byte[] expected = concat(ByteBufUtil.getBytes(cumulation), ByteBufUtil.getBytes(in));

    ByteBuf merged = UnreadBytesCumulator.INSTANCE.cumulate(ALLOC, cumulation, in);

    try {
      // Netty's merge would resize the same buffer, copying the 4,000 bytes already decoded too.
      assertThat(merged).isNotSameAs(cumulation);
      assertThat(merged.readerIndex()).isZero();
      assertThat(ByteBufUtil.getBytes(merged)).isEqualTo(expected);
      assertThat(cumulation.refCnt()).isZero();
      assertThat(in.refCnt()).isZero();
    } finally {
      merged.release();
    }
  }

  @Example
  void aBufferWithRoomTakesTheNewBytesItself() {
    ByteBuf cumulation = filled(ALLOC.buffer(4096), 100, 1);
    cumulation.readerIndex(60);
    ByteBuf in = filled(ALLOC.buffer(64), 64, 2);
    byte[] expected = concat(ByteBufUtil.getBytes(cumulation), ByteBufUtil.getBytes(in));

    ByteBuf merged = UnreadBytesCumulator.INSTANCE.cumulate(ALLOC, cumulation, in);

    try {
      assertThat(merged).isSameAs(cumulation);
      assertThat(ByteBufUtil.getBytes(merged)).isEqualTo(expected);
      assertThat(in.refCnt()).isZero();
    } finally {
      merged.release();
    }
  }

  @Example
  void anEmptyBufferGivesWayToTheNewOne() {
    ByteBuf cumulation = filled(ALLOC.buffer(64), 64, 1);
    cumulation.readerIndex(64);
    ByteBuf in = filled(ALLOC.buffer(64), 64, 2);

    ByteBuf merged = UnreadBytesCumulator.INSTANCE.cumulate(ALLOC, cumulation, in);

    try {
      assertThat(merged).isSameAs(in);
      assertThat(cumulation.refCnt()).isZero();
    } finally {
      merged.release();
    }
  }

  @Property(tries = 200)
  void framesSplitAnywhereIntoBuffersWithOrWithoutRoomDecodeToThemselves(
      @ForAll("frames") @Size(min = 1, max = 12) List<PeerFrame> frames,
      @ForAll @Size(max = 20) List<@DoubleRange(min = 0, max = 1) Double> cutFractions,
      @ForAll @IntRange(max = 3000) int spare) {
    ByteBuf all = SampleFrames.encodeAll(frames);
    EmbeddedChannel channel =
        new EmbeddedChannel(
            new FrameDecoder<>(PeerFrame.parser(), Frames.DEFAULT_MAX_FRAME_LENGTH));
    try {
      int length = all.readableBytes();
      TreeSet<Integer> cuts = new TreeSet<>();
      cutFractions.forEach(f -> cuts.add((int) (f * length)));
      cuts.add(length);
      int from = 0;
      for (int cut : cuts) {
        // A buffer of its own, as a read gives, sometimes with room left after the bytes.
        ByteBuf read = ALLOC.buffer(cut - from + spare % (cut - from + 1));
        read.writeBytes(all, from, cut - from);
        channel.writeInbound(read);
        from = cut;
      }

      List<PeerFrame> decoded = new ArrayList<>();
      for (PeerFrame frame; (frame = channel.readInbound()) != null; ) {
        decoded.add(frame);
      }
      assertThat(decoded).containsExactlyElementsOf(frames);
    } finally {
      all.release();
      channel.finishAndReleaseAll();
    }
  }

  @Provide
  Arbitrary<List<PeerFrame>> frames() {
    return Arbitraries.integers()
        .between(0, 3000)
        .map(size -> SampleFrames.data("game.zone1.lobby/1", "game.zone1.chat/1", size))
        .list();
  }

  private static ByteBuf filled(ByteBuf buffer, int bytes, int seed) {
    byte[] content = new byte[bytes];
    new Random(seed).nextBytes(content);
    return buffer.writeBytes(content);
  }

  private static byte[] concat(byte[] first, byte[] second) {
    byte[] both = new byte[first.length + second.length];
    System.arraycopy(first, 0, both, 0, first.length);
    System.arraycopy(second, 0, both, first.length, second.length);
    return both;
  }
}

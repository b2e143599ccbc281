package io.skymesh.codec;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.PooledByteBufAllocator;
import java.util.Random;
import java.util.function.Consumer;
import net.jqwik.api.Example;

/**
 * The frame decoder's cumulator: a partial frame carried into the next read keeps only its unread
 * bytes, and the buffers handed in are released. (Frames split into buffers with and without room
 * to spare: {@code FrameSplitPropertyTest}.)
 */
class UnreadBytesCumulatorTest {

  private static final ByteBufAllocator ALLOC = PooledByteBufAllocator.DEFAULT;

  @Example
  void aFullBufferWithAPartialFrameIsReplacedByOneHoldingOnlyItsUnreadBytesAndTheNewOnes() {
    ByteBuf cumulation = filled(ALLOC.buffer(4096), 4096, 1);
    cumulation.readerIndex(4000); // 96 bytes of a frame not decoded yet

    cumulateAndCheck(
        cumulation,
        filled(ALLOC.buffer(4096), 4096, 2),
        merged -> {
          // Netty's merge would resize the same buffer, copying the 4,000 bytes already decoded.
          assertThat(merged).isNotSameAs(cumulation);
          assertThat(merged.readerIndex()).isZero();
          assertThat(cumulation.refCnt()).isZero();
        });
  }

  @Example
  void aBufferWithRoomTakesTheNewBytesItself() {
    ByteBuf cumulation = filled(ALLOC.buffer(4096), 100, 1);
    cumulation.readerIndex(60);

    cumulateAndCheck(
        cumulation,
        filled(ALLOC.buffer(64), 64, 2),
        merged -> assertThat(merged).isSameAs(cumulation));
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

  /**
   * Cumulates {@code in} onto {@code cumulation}, checks that the result holds the unread bytes of
   * both in order and that {@code in} was released, runs {@code checks} on it, and releases it.
   */
  private static void cumulateAndCheck(ByteBuf cumulation, ByteBuf in, Consumer<ByteBuf> checks) {
    byte[] expected = concat(ByteBufUtil.getBytes(cumulation), ByteBufUtil.getBytes(in));

    ByteBuf merged = UnreadBytesCumulator.INSTANCE.cumulate(ALLOC, cumulation, in);

    try {
      assertThat(ByteBufUtil.getBytes(merged)).isEqualTo(expected);
      assertThat(in.refCnt()).isZero();
      checks.accept(merged);
    } finally {
      merged.release();
    }
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

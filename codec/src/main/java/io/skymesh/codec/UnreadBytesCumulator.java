package io.skymesh.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.ByteToMessageDecoder;

/**
 * {@link ByteToMessageDecoder}'s {@code MERGE_CUMULATOR}, except where the buffer holding a partial
 * frame has no room for the next read: then the unread bytes and the new ones go into a new buffer,
 * as Netty does for a buffer it may not resize (its {@code expandCumulation}, which is private).
 * Netty would resize the old buffer instead, and a pooled buffer's reallocation copies its whole
 * capacity, the frames already decoded included: with frames of a kilobyte or more, nearly every
 * read ends inside a frame, so every read cost a copy of the previous read buffer (up to 64 KiB) on
 * top of its own. Here it costs the partial frame's bytes: 3 to 5% of a 1 KiB request's CPU time
 * (benchmarks/README.md, "Frames split across reads").
 */
final class UnreadBytesCumulator implements ByteToMessageDecoder.Cumulator {

  /** The one instance; it keeps no state. */
  static final UnreadBytesCumulator INSTANCE = new UnreadBytesCumulator();

  private UnreadBytesCumulator() {}

  @Override
  public ByteBuf cumulate(ByteBufAllocator alloc, ByteBuf cumulation, ByteBuf in) {
    if (cumulation == in
        || !cumulation.isReadable()
        || in.readableBytes() <= cumulation.maxFastWritableBytes()) {
      // Nothing carried over, or room for the read without a reallocation: Netty's merge.
      return ByteToMessageDecoder.MERGE_CUMULATOR.cumulate(alloc, cumulation, in);
    }
    int unread = cumulation.readableBytes();
    int required = in.readableBytes();
    ByteBuf merged = alloc.buffer(alloc.calculateNewCapacity(unread + required, Integer.MAX_VALUE));
    ByteBuf toRelease = merged;
    try {
      merged
          .writeBytes(cumulation, cumulation.readerIndex(), unread)
          .writeBytes(in, in.readerIndex(), required);
      toRelease = cumulation;
      return merged;
    } finally {
      toRelease.release();
      in.release();
    }
  }
}

package io.skymesh.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.ByteToMessageDecoder;

/**
 * {@link ByteToMessageDecoder}'s {@code MERGE_CUMULATOR}, except where the buffer holding a partial
 * frame has no room for the next read: then the unread bytes and the new ones go into a new buffer,
 * as Netty does for a buffer it may not resize. Netty would resize the old buffer instead, and a
 * pooled buffer's reallocation copies its whole capacity, the frames already decoded included: with
 * frames of a kilobyte or more, nearly every read ends inside a frame, so every read cost a copy of
 * the previous read buffer (up to 64 KiB) on top of its own. Here it costs the partial frame's
 * bytes.
 */
final class UnreadBytesCumulator implements ByteToMessageDecoder.Cumulator {

  /** The one instance; it keeps no state. */
  static final UnreadBytesCumulator INSTANCE = new UnreadBytesCumulator();

  private UnreadBytesCumulator() {}

  @Override
  public ByteBuf cumulate(ByteBufAllocator alloc, ByteBuf cumulation, ByteBuf in) {
    if (cumulation == in) {
      // The same buffer twice is retained twice: release it once.
      in.release();
      return cumulation;
    }
    if (!cumulation.isReadable() && in.isContiguous()) {
      // Nothing left over: the new buffer is the cumulation.
      cumulation.release();
      return in;
    }
    try {
      int unread = cumulation.readableBytes();
      int required = in.readableBytes();
      if (required <= cumulation.maxFastWritableBytes()
          && cumulation.refCnt() == 1
          && !cumulation.isReadOnly()) {
        // Room in what the buffer already holds: no reallocation.
        cumulation.writeBytes(in, in.readerIndex(), required);
        in.readerIndex(in.writerIndex());
        return cumulation;
      }
      int total = unread + required;
      ByteBuf merged = alloc.buffer(alloc.calculateNewCapacity(total, Integer.MAX_VALUE));
      ByteBuf toRelease = merged;
      try {
        merged
            .setBytes(0, cumulation, cumulation.readerIndex(), unread)
            .setBytes(unread, in, in.readerIndex(), required)
            .writerIndex(total);
        in.readerIndex(in.writerIndex());
        toRelease = cumulation;
        return merged;
      } finally {
        toRelease.release();
      }
    } finally {
      in.release();
    }
  }
}

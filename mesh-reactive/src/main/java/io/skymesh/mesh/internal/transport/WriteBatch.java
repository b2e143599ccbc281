package io.skymesh.mesh.internal.transport;

import com.google.protobuf.CodedOutputStream;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.skymesh.codec.Frames;
import java.io.IOException;

/**
 * Frames encoded back to back into one pooled buffer, and the sends they belong to: one buffer, one
 * write, one promise for many frames. When the buffer is written every send in it completes; when
 * the write fails they all fail. Event loop only.
 *
 * <p>Frames are serialized through one {@link CodedOutputStream} over the buffer's memory, so the
 * buffer itself is touched twice per batch (to open it and to set its writer index), not several
 * times per frame: cheaper, and much cheaper under Netty's paranoid leak detector, which records a
 * stack trace on most buffer accesses.
 */
final class WriteBatch implements ChannelFutureListener {

  private final PeerChannel owner;
  private ByteBuf buffer;
  private final int start;
  private final int capacity;

  /** Null when the buffer has neither an array nor a single NIO buffer: frames go one by one. */
  private final CodedOutputStream output;

  private int used;
  private int count;
  private PendingSend head;
  private PendingSend tail;

  private WriteBatch(PeerChannel owner, ByteBuf buffer) {
    this.owner = owner;
    this.buffer = buffer;
    this.start = buffer.writerIndex();
    this.capacity = buffer.writableBytes();
    if (buffer.hasArray()) {
      output =
          CodedOutputStream.newInstance(buffer.array(), buffer.arrayOffset() + start, capacity);
    } else if (buffer.nioBufferCount() == 1) {
      output = CodedOutputStream.newInstance(buffer.internalNioBuffer(start, capacity));
    } else {
      output = null;
    }
  }

  /** A batch in a new buffer of at least {@code minCapacity} bytes. */
  static WriteBatch allocate(PeerChannel owner, ByteBufAllocator allocator, int minCapacity) {
    ByteBuf buffer = allocator.ioBuffer(minCapacity, minCapacity);
    try {
      return new WriteBatch(owner, buffer);
    } catch (RuntimeException | Error e) {
      buffer.release();
      throw e;
    }
  }

  /** Whether a frame of {@code frameBytes} (length prefix included) still fits. */
  boolean hasRoom(int frameBytes) {
    return capacity - used >= frameBytes;
  }

  boolean isEmpty() {
    return count == 0;
  }

  int count() {
    return count;
  }

  /**
   * Encodes {@code send}'s frame after the others and makes the send part of this batch.
   *
   * @param bodyLength the frame's serialized size, which {@link #hasRoom} has checked
   */
  void add(PendingSend send, OutboundFrame frame, int bodyLength) throws IOException {
    if (output != null) {
      // Protobuf's fixed32 is little-endian; reversed, it writes the big-endian length prefix.
      output.writeFixed32NoTag(Integer.reverseBytes(bodyLength));
      frame.writeBody(output);
    } else {
      buffer.writeInt(bodyLength);
      buffer.writeBytes(frame.toByteArray());
    }
    used += Frames.LENGTH_FIELD_LENGTH + bodyLength;
    if (tail == null) {
      head = send;
    } else {
      tail.nextInBatch = send;
    }
    tail = send;
    count++;
  }

  /** Hands the encoded buffer over to the caller, who writes it; this batch then owns no buffer. */
  ByteBuf takeBuffer() throws IOException {
    if (output != null) {
      output.flush();
      buffer.writerIndex(start + used);
    }
    ByteBuf taken = buffer;
    buffer = null;
    return taken;
  }

  /** Releases the buffer if it was not taken; for a batch that is dropped. */
  void releaseBuffer() {
    if (buffer != null) {
      buffer.release();
      buffer = null;
    }
  }

  /** Fails every send of a batch that will not be written. */
  void fail(Throwable error) {
    complete(error);
  }

  @Override
  public void operationComplete(ChannelFuture future) {
    Throwable error = future.isSuccess() ? null : owner.writeFailure(future.cause());
    owner.batchWritten(count);
    complete(error);
    owner.afterBatchWritten();
  }

  private void complete(Throwable error) {
    PendingSend send = head;
    head = null;
    tail = null;
    while (send != null) {
      PendingSend next = send.nextInBatch;
      send.nextInBatch = null;
      send.written(error);
      send = next;
    }
  }
}

package io.skymesh.nameserver.internal;

import com.google.protobuf.CodedOutputStream;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.skymesh.codec.FrameTooLargeException;
import io.skymesh.codec.Frames;
import io.skymesh.proto.KvWatchEvent;
import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.WatchEvent;

/**
 * One watch's {@code NameServerFrame} holding a {@link SharedEvent}: the event's shared encoding
 * with the watch's id written in front, byte for byte what protobuf encodes for the frame whose
 * {@code watch_event} (or {@code kv_watch_event}) is the event with that {@code watch_id}. Protobuf
 * writes a message's fields in field-number order and {@code watch_id} is field 1 of both events,
 * so the watch's id followed by the event encoded without one is the event encoded with it; the
 * frame around it is one length-delimited field. Immutable: it goes from the writer to the
 * connection's event loop, where {@link Encoder} writes it into a buffer.
 */
final class WatchFrame {

  private static final int LENGTH_DELIMITED = 2;
  private static final int WATCH_EVENT_TAG =
      NameServerFrame.WATCH_EVENT_FIELD_NUMBER << 3 | LENGTH_DELIMITED;
  private static final int KV_WATCH_EVENT_TAG =
      NameServerFrame.KV_WATCH_EVENT_FIELD_NUMBER << 3 | LENGTH_DELIMITED;
  private static final int WATCH_ID_TAG = WatchEvent.WATCH_ID_FIELD_NUMBER << 3;

  static {
    // The layout above holds only while watch_id is the first field of both events.
    if (WatchEvent.WATCH_ID_FIELD_NUMBER != 1 || KvWatchEvent.WATCH_ID_FIELD_NUMBER != 1) {
      throw new ExceptionInInitializerError("watch_id is not field 1 of the watch events");
    }
  }

  private final boolean kv;
  private final long watchId;
  private final byte[] event;
  private final int eventLength;

  WatchFrame(boolean kv, long watchId, byte[] event) {
    this.kv = kv;
    this.watchId = watchId;
    this.event = event;
    this.eventLength =
        (watchId == 0 ? 0 : 1 + CodedOutputStream.computeUInt64SizeNoTag(watchId)) + event.length;
  }

  /** Whether the frame carries a KV event. */
  boolean kv() {
    return kv;
  }

  /** The event's encoding, shared by every frame of the event: not a copy, never to be changed. */
  byte[] sharedEncoding() {
    return event;
  }

  /** The encoded {@code NameServerFrame}'s length, without the frame's length prefix. */
  int bodyLength() {
    return 1 + CodedOutputStream.computeUInt32SizeNoTag(eventLength) + eventLength;
  }

  /** Appends the frame (length prefix, then body) to {@code out}. */
  void writeTo(ByteBuf out) {
    int bodyLength = bodyLength();
    out.ensureWritable(Frames.LENGTH_FIELD_LENGTH + bodyLength);
    out.writeInt(bodyLength);
    out.writeByte(kv ? KV_WATCH_EVENT_TAG : WATCH_EVENT_TAG);
    writeVarint(out, eventLength);
    if (watchId != 0) {
      // proto3 leaves a zero field out.
      out.writeByte(WATCH_ID_TAG);
      writeVarint(out, watchId);
    }
    out.writeBytes(event);
  }

  private static void writeVarint(ByteBuf out, long value) {
    while ((value & ~0x7FL) != 0) {
      out.writeByte((int) (value & 0x7F) | 0x80);
      value >>>= 7;
    }
    out.writeByte((int) value);
  }

  @Override
  public String toString() {
    return (kv ? "KvWatchEvent" : "WatchEvent")
        + "[watch "
        + Long.toUnsignedString(watchId)
        + ", "
        + event.length
        + " bytes shared]";
  }

  /**
   * Writes each {@link WatchFrame} into a buffer of the channel's allocator; passes anything else
   * on. A frame over the maximum fails its write promise with {@link FrameTooLargeException}, as
   * the codec's encoder does. Stateless: one instance serves every channel.
   */
  @ChannelHandler.Sharable
  static final class Encoder extends ChannelOutboundHandlerAdapter {

    private final int maxFrameLength;

    Encoder(int maxFrameLength) {
      this.maxFrameLength = Frames.checkMaxFrameLength(maxFrameLength);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
      if (!(msg instanceof WatchFrame frame)) {
        ctx.write(msg, promise);
        return;
      }
      int bodyLength = frame.bodyLength();
      if (bodyLength > maxFrameLength) {
        promise.setFailure(new FrameTooLargeException(bodyLength, maxFrameLength));
        return;
      }
      ByteBuf out = ctx.alloc().ioBuffer(Frames.LENGTH_FIELD_LENGTH + bodyLength);
      try {
        frame.writeTo(out);
      } catch (RuntimeException | Error e) {
        out.release();
        throw e;
      }
      ctx.write(out, promise);
    }
  }
}

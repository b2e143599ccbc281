package io.skymesh.codec;

import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decodes Skymesh frames into protobuf messages of one type. Copes with frames split across reads
 * and with many frames in one read; parses each body in place from the received buffer.
 *
 * <p>On a protocol error (a length over the maximum, a body that does not parse, or the connection
 * ending mid-frame) it logs the cause once, fires the typed {@link FrameException} down the
 * pipeline, writes the optional last-words frame, and closes the connection. Everything that
 * arrives after the error is discarded. Nothing else is affected.
 *
 * <p>With Reactor Netty, an error inside the stream (too large, corrupt) also ends the connection's
 * {@code receiveObject()} with the typed exception. A truncation is found only when the channel
 * closes, after Reactor Netty has completed its inbound: handlers after this one in the pipeline
 * see it, the inbound flux does not.
 *
 * <p>One instance per channel: it holds the partial frame of its connection.
 *
 * @param <T> the message type of the frames
 */
public final class FrameDecoder<T> extends ByteToMessageDecoder {

  private static final Logger log = LoggerFactory.getLogger(FrameDecoder.class);

  private final FrameBodyDecoder<? extends T> bodyDecoder;
  private final int maxFrameLength;
  private final Function<? super FrameException, ? extends MessageLite> lastWords;
  private boolean failed;
  private boolean closingHere;

  /**
   * Creates a decoder that closes the connection on a protocol error without a last frame.
   *
   * @param parser the parser of the frames' message type, for example {@code PeerFrame.parser()}
   * @param maxFrameLength the largest body length accepted, see {@link
   *     Frames#DEFAULT_MAX_FRAME_LENGTH}
   */
  public FrameDecoder(Parser<T> parser, int maxFrameLength) {
    this(parser, maxFrameLength, null);
  }

  /**
   * Creates a decoder that, on a protocol error, sends the message {@code lastWords} makes of the
   * error before it closes the connection.
   *
   * @param parser the parser of the frames' message type, for example {@code PeerFrame.parser()}
   * @param maxFrameLength the largest body length accepted
   * @param lastWords makes the frame to send on a protocol error, or {@code null} for none
   */
  public FrameDecoder(
      Parser<T> parser,
      int maxFrameLength,
      Function<? super FrameException, ? extends MessageLite> lastWords) {
    Objects.requireNonNull(parser, "parser");
    this.bodyDecoder = (in, index, length) -> Frames.parseBody(parser, in, index, length);
    this.maxFrameLength = Frames.checkMaxFrameLength(maxFrameLength);
    this.lastWords = lastWords;
    setCumulator(UnreadBytesCumulator.INSTANCE);
  }

  /**
   * Creates a decoder whose bodies are decoded by {@code bodyDecoder} instead of a protobuf parser:
   * for a protocol that decodes its busiest frames by hand. On a protocol error it sends the
   * message {@code lastWords} makes of the error, if any, before it closes the connection.
   *
   * @param bodyDecoder decodes one body in place; throws {@link CorruptFrameException} on a body
   *     that is not valid
   * @param maxFrameLength the largest body length accepted
   * @param lastWords makes the frame to send on a protocol error, or {@code null} for none
   */
  public FrameDecoder(
      FrameBodyDecoder<? extends T> bodyDecoder,
      int maxFrameLength,
      Function<? super FrameException, ? extends MessageLite> lastWords) {
    this.bodyDecoder = Objects.requireNonNull(bodyDecoder, "bodyDecoder");
    this.maxFrameLength = Frames.checkMaxFrameLength(maxFrameLength);
    this.lastWords = lastWords;
    setCumulator(UnreadBytesCumulator.INSTANCE);
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    if (failed) {
      in.skipBytes(in.readableBytes());
      return;
    }
    int readable = in.readableBytes();
    if (readable < Frames.LENGTH_FIELD_LENGTH) {
      return;
    }
    int start = in.readerIndex();
    long bodyLength = in.getUnsignedInt(start);
    if (bodyLength > maxFrameLength) {
      in.skipBytes(readable);
      fail(ctx, new FrameTooLargeException(bodyLength, maxFrameLength));
      return;
    }
    int frameLength = Frames.LENGTH_FIELD_LENGTH + (int) bodyLength;
    if (readable < frameLength) {
      return;
    }
    T message;
    try {
      message = bodyDecoder.decode(in, start + Frames.LENGTH_FIELD_LENGTH, (int) bodyLength);
    } catch (CorruptFrameException e) {
      in.skipBytes(readable);
      fail(ctx, e);
      return;
    }
    in.readerIndex(start + frameLength);
    out.add(message);
  }

  /**
   * Tells the decoder that this side is closing the connection (its own decision, not the peer's
   * error): a frame left half read when the connection ends is then not reported as a truncation.
   * Event loop only.
   */
  public void closingHere() {
    closingHere = true;
  }

  @Override
  protected void decodeLast(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    if (in.isReadable()) {
      decode(ctx, in, out);
    }
    if (in.isReadable() && !failed) {
      int pending = in.readableBytes();
      in.skipBytes(pending);
      if (closingHere) {
        return;
      }
      // Fired here, not thrown, so that it reaches the pipeline before channelInactive does.
      fail(ctx, new TruncatedFrameException(pending));
    }
  }

  private void fail(ChannelHandlerContext ctx, FrameException error) {
    failed = true;
    log.warn("Closing {} after a protocol error: {}", ctx.channel(), error.getMessage());
    if (lastWords != null && ctx.channel().isActive()) {
      MessageLite words = lastWords.apply(error);
      ChannelFuture written =
          ctx.writeAndFlush(Frames.encode(ctx.alloc(), words, Frames.MAX_FRAME_LENGTH_LIMIT));
      // The error travels on while the channel is still open, so that an inbound subscriber gets
      // it as onError rather than a plain completion; the close waits for the last words.
      ctx.fireExceptionCaught(error);
      written.addListener(ChannelFutureListener.CLOSE);
    } else {
      ctx.fireExceptionCaught(error);
      ctx.close();
    }
  }
}

package io.skymesh.codec;

import com.google.protobuf.MessageLite;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;

/**
 * Encodes outbound protobuf messages into Skymesh frames, each serialized straight into one pooled
 * buffer holding the length and the body. Anything that is not a {@link MessageLite} passes through
 * unchanged, so already-encoded {@code ByteBuf} frames can share the channel.
 *
 * <p>A message over the maximum fails its write promise with {@link FrameTooLargeException};
 * nothing is written and the connection stays open. Stateless: one instance may serve every
 * channel.
 */
@ChannelHandler.Sharable
public final class FrameEncoder extends ChannelOutboundHandlerAdapter {

  private final int maxFrameLength;

  /**
   * Creates an encoder.
   *
   * @param maxFrameLength the largest body length to send, see {@link
   *     Frames#DEFAULT_MAX_FRAME_LENGTH}
   */
  public FrameEncoder(int maxFrameLength) {
    this.maxFrameLength = Frames.checkMaxFrameLength(maxFrameLength);
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    if (!(msg instanceof MessageLite)) {
      ctx.write(msg, promise);
      return;
    }
    try {
      ctx.write(Frames.encode(ctx.alloc(), (MessageLite) msg, maxFrameLength), promise);
    } catch (FrameTooLargeException e) {
      promise.setFailure(e);
    }
  }
}

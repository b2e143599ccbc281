package io.skymesh.codec;

import io.netty.buffer.ByteBuf;

/**
 * Decodes the body of one frame that lies in a buffer, without changing the buffer's indexes and
 * without keeping a reference to it. {@link FrameDecoder} uses a protobuf {@code Parser} by
 * default; a protocol that decodes its busiest frames by hand plugs in one of these.
 *
 * <pre>{@code
 * new FrameDecoder<>((in, index, length) -> myDecode(in, index, length), maxFrameLength, null);
 * }</pre>
 *
 * @param <T> what a body decodes to
 */
@FunctionalInterface
public interface FrameBodyDecoder<T> {

  /**
   * Decodes one body.
   *
   * @param in the buffer holding the body
   * @param index where the body starts
   * @param length the body's length
   * @return what the body holds; never null
   * @throws CorruptFrameException if the body is not valid
   */
  T decode(ByteBuf in, int index, int length);
}

package io.skymesh.codec;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import com.google.protobuf.UnsafeByteOperations;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.io.IOException;
import java.util.Objects;

/**
 * Static helpers for the Skymesh frame: a 4-byte big-endian unsigned body length (the 4 bytes not
 * counted), then a protobuf body.
 *
 * <pre>{@code
 * ByteBuf frame = Frames.encode(channel.alloc(), message, Frames.DEFAULT_MAX_FRAME_LENGTH);
 * }</pre>
 */
public final class Frames {

  /** The size of the length prefix in bytes. */
  public static final int LENGTH_FIELD_LENGTH = 4;

  /**
   * The default maximum body length: 16 MiB. Large enough for a 4 MiB request with headers and room
   * to spare; small enough that one frame cannot take a process's memory.
   */
  public static final int DEFAULT_MAX_FRAME_LENGTH = 16 * 1024 * 1024;

  /** The largest maximum body length that can be configured. */
  public static final int MAX_FRAME_LENGTH_LIMIT = Integer.MAX_VALUE - LENGTH_FIELD_LENGTH;

  private Frames() {}

  /**
   * Encodes a message into a new frame: one buffer from {@code allocator} holding the length and
   * the body, serialized in place (no intermediate array).
   *
   * @param allocator where the buffer comes from; a pooled direct allocator is best
   * @param message the body
   * @param maxFrameLength the largest body length allowed
   * @return a buffer the caller owns and must release (writing it to a channel does)
   * @throws FrameTooLargeException if the serialized message is over {@code maxFrameLength}
   */
  public static ByteBuf encode(
      ByteBufAllocator allocator, MessageLite message, int maxFrameLength) {
    Objects.requireNonNull(allocator, "allocator");
    Objects.requireNonNull(message, "message");
    int bodyLength = checkedBodyLength(message, maxFrameLength);
    ByteBuf frame = allocator.ioBuffer(LENGTH_FIELD_LENGTH + bodyLength);
    try {
      writeFrame(message, bodyLength, frame);
      return frame;
    } catch (RuntimeException | Error e) {
      frame.release();
      throw e;
    }
  }

  /**
   * Appends one frame holding {@code message} to {@code out}, growing it if needed.
   *
   * @param message the body
   * @param out the buffer written to
   * @param maxFrameLength the largest body length allowed
   * @throws FrameTooLargeException if the serialized message is over {@code maxFrameLength};
   *     nothing is written then
   */
  public static void encode(MessageLite message, ByteBuf out, int maxFrameLength) {
    Objects.requireNonNull(message, "message");
    Objects.requireNonNull(out, "out");
    writeFrame(message, checkedBodyLength(message, maxFrameLength), out);
  }

  /**
   * Writes one frame holding {@code message} to a {@code CodedOutputStream}: the big-endian length
   * prefix, then the body. For an encoder that serializes many frames back to back into one buffer
   * through one stream (the caller has checked the length against its limit and the room left).
   *
   * @param message the body
   * @param bodyLength {@code message.getSerializedSize()}, which the caller has computed already
   * @param out the stream written to
   * @throws IOException if the stream has no room left
   */
  public static void encode(MessageLite message, int bodyLength, CodedOutputStream out)
      throws IOException {
    // Protobuf's fixed32 is little-endian; reversed, it writes the big-endian length prefix.
    out.writeFixed32NoTag(Integer.reverseBytes(bodyLength));
    message.writeTo(out);
  }

  /**
   * Parses a frame body that lies in {@code in} at {@code index}, without changing its indexes. The
   * body is read in place; nothing of the buffer is kept by the returned message.
   *
   * @param parser the parser of the expected message type
   * @param in the buffer holding the body
   * @param index where the body starts
   * @param length the body's length
   * @param <T> the message type
   * @return the message
   * @throws CorruptFrameException if the body is not a valid message of that type
   */
  public static <T> T parseBody(Parser<T> parser, ByteBuf in, int index, int length) {
    try {
      if (in.hasArray()) {
        // The pool owns this array, so bytes fields must be copied out of it: no aliasing.
        return parser.parseFrom(in.array(), in.arrayOffset() + index, length);
      }
      // A direct buffer: copy the body once into an array of the message's own and let bytes
      // fields point into it. Parsing the buffer itself would copy twice (protobuf-java 4.x has
      // no in-place direct decoder), and the payload would be copied again.
      byte[] body = new byte[length];
      in.getBytes(index, body);
      return parseOwned(parser, body);
    } catch (InvalidProtocolBufferException e) {
      throw new CorruptFrameException(
          "frame body of " + length + " bytes does not parse: " + e.getMessage(), e);
    }
  }

  /**
   * Parses a frame body held in an array that nothing else will write to: the message's {@code
   * bytes} fields are views of it, not copies.
   *
   * @param parser the parser of the expected message type
   * @param body the body, handed over to the message
   * @param <T> the message type
   * @return the message
   * @throws CorruptFrameException if the body is not a valid message of that type
   */
  public static <T> T parseOwnedBody(Parser<T> parser, byte[] body) {
    try {
      return parseOwned(parser, body);
    } catch (InvalidProtocolBufferException e) {
      throw new CorruptFrameException(
          "frame body of " + body.length + " bytes does not parse: " + e.getMessage(), e);
    }
  }

  private static <T> T parseOwned(Parser<T> parser, byte[] body)
      throws InvalidProtocolBufferException {
    CodedInputStream input = UnsafeByteOperations.unsafeWrap(body).newCodedInput();
    input.enableAliasing(true);
    T message = parser.parseFrom(input);
    input.checkLastTagWas(0);
    return message;
  }

  /**
   * Checks a configured maximum frame length.
   *
   * @param maxFrameLength the value to check
   * @return the value
   * @throws IllegalArgumentException if it is not in {@code 1..MAX_FRAME_LENGTH_LIMIT}
   */
  public static int checkMaxFrameLength(int maxFrameLength) {
    if (maxFrameLength < 1 || maxFrameLength > MAX_FRAME_LENGTH_LIMIT) {
      throw new IllegalArgumentException(
          "maxFrameLength: " + maxFrameLength + " (expected: 1.." + MAX_FRAME_LENGTH_LIMIT + ")");
    }
    return maxFrameLength;
  }

  private static int checkedBodyLength(MessageLite message, int maxFrameLength) {
    int bodyLength = message.getSerializedSize();
    if (bodyLength > maxFrameLength) {
      throw new FrameTooLargeException(bodyLength, maxFrameLength);
    }
    return bodyLength;
  }

  private static void writeFrame(MessageLite message, int bodyLength, ByteBuf out) {
    out.ensureWritable(LENGTH_FIELD_LENGTH + bodyLength);
    out.writeInt(bodyLength);
    int bodyIndex = out.writerIndex();
    CodedOutputStream output;
    if (out.hasArray()) {
      output =
          CodedOutputStream.newInstance(out.array(), out.arrayOffset() + bodyIndex, bodyLength);
    } else if (out.nioBufferCount() == 1) {
      output = CodedOutputStream.newInstance(out.internalNioBuffer(bodyIndex, bodyLength));
    } else {
      out.writeBytes(message.toByteArray());
      return;
    }
    try {
      message.writeTo(output);
      output.checkNoSpaceLeft();
    } catch (IOException e) {
      // Only an undersized target throws, and the target was sized by getSerializedSize().
      throw new IllegalStateException("message changed while being serialized", e);
    }
    out.writerIndex(bodyIndex + bodyLength);
  }
}

package io.skymesh.mesh.internal.transport;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.UnsafeByteOperations;
import io.netty.buffer.ByteBuf;
import io.skymesh.codec.CorruptFrameException;
import io.skymesh.codec.FrameBodyDecoder;
import io.skymesh.codec.Frames;
import io.skymesh.proto.Header;
import io.skymesh.proto.PeerFrame;
import io.skymesh.proto.Status;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Decodes a connection's frame bodies: {@code Request}, {@code Response} and {@code Data} frames by
 * hand into {@link InboundRequest}, {@link InboundResponse} and {@link InboundData}, every other
 * frame with protobuf's parser into a {@code PeerFrame}. One instance per connection, used on its
 * event loop only.
 *
 * <p>A hand-decoded body is read from a scratch array the decoder keeps (copied there out of the
 * read buffer, not allocated per frame), and its payload is copied out on its own. A body of
 * {@value #SMALLEST_POOLED} bytes or more is copied into the scratch array as it is read, a few
 * dozen bytes ahead of the field being decoded, and a payload not yet there is copied straight out
 * of the read buffer: once, not twice. With pooled payloads, a request's, response's or message's
 * payload of {@value #SMALLEST_POOLED} bytes or more goes into an array leased from the event
 * loop's {@link PayloadPool} instead of a new one, and the payload is a view of it, handed over
 * with the frame for its receiver to release. (A view of the direct read buffer itself is not to be
 * had: protobuf-java 4 copies a direct {@code ByteBuffer} it is asked to wrap.) Only the fields
 * around the payload go through the scratch array, so it grows with them, not with the payload: a
 * body of any length decodes in it unless those fields come to more than {@value #LARGEST_SCRATCH}
 * bytes. Every other frame is copied once into an array of its own, which its bytes fields alias.
 *
 * <p>The hand decoder takes only the layout protobuf-java and this transport write (one such field
 * filling the frame, known fields with their wire types); anything else, and anything malformed,
 * goes to protobuf's parser, which decides: the same message, or the same {@link
 * CorruptFrameException}. Source, destination and method strings, which a connection repeats, are
 * decoded once and kept in a small per-connection cache.
 */
final class PeerFrameDecoder implements FrameBodyDecoder<Object> {

  private static final int DATA_TAG = 2 << 3 | 2;
  private static final int REQUEST_TAG = 3 << 3 | 2;
  private static final int RESPONSE_TAG = 4 << 3 | 2;

  /** Thrown inside the hand decoder to hand the body over to protobuf's parser; no stack trace. */
  private static final RuntimeException NOT_HANDLED =
      new RuntimeException(null, null, false, false) {};

  /** Payloads shorter than this get their own array even with pooled payloads. */
  static final int SMALLEST_POOLED = PayloadPool.SMALLEST;

  /**
   * The largest scratch array: a body whose fields other than its payload need more goes to
   * protobuf's parser.
   */
  static final int LARGEST_SCRATCH = 64 * 1024;

  /** Bytes copied into the scratch array at least, when a body is copied there as it is read. */
  private static final int READ_AHEAD = 64;

  private final StringCache strings = new StringCache();
  private final boolean pooledPayloads;
  private byte[] scratch = new byte[512];

  // The body being decoded by hand: the read buffer it is in and where, and its bytes copied so far
  // (up to `filled`, counted from the body's start). A body position p is at scratch[p - offset]:
  // the offset grows by what was skipped (a payload copied straight out) and when the bytes still
  // to be read move to the array's start to make room, so a body longer than the array decodes in
  // it.
  private ByteBuf in;
  private int start;
  private int filled;
  private int offset;
  private int position;
  private int limit;
  private @Nullable PooledPayload pooledPayload;

  /** A decoder that copies every payload into an array of its own. */
  PeerFrameDecoder() {
    this(false);
  }

  /**
   * A decoder.
   *
   * @param pooledPayloads whether request and response payloads may be held in pooled arrays
   */
  PeerFrameDecoder(boolean pooledPayloads) {
    this.pooledPayloads = pooledPayloads;
  }

  @Override
  public Object decode(ByteBuf in, int index, int length) {
    int first = length > 1 ? in.getByte(index) : 0;
    if (first != REQUEST_TAG && first != RESPONSE_TAG && first != DATA_TAG) {
      return parse(copy(in, index, length));
    }
    offset = 0;
    if (length >= SMALLEST_POOLED) {
      // There may be a payload to copy straight out of the read buffer: copy the rest as needed.
      filled = 0;
    } else {
      in.getBytes(index, scratch, 0, length); // the scratch array is never shorter than this
      filled = length;
    }
    this.in = in;
    start = index;
    limit = length;
    try {
      return switch (first) {
        case REQUEST_TAG -> request();
        case RESPONSE_TAG -> response();
        default -> data();
      };
    } catch (RuntimeException notHandled) {
      if (notHandled != NOT_HANDLED) {
        throw notHandled;
      }
    } finally {
      if (pooledPayload != null) {
        // Given up half way: the pooled payload is not handed over.
        pooledPayload.release();
        pooledPayload = null;
      }
      this.in = null;
    }
    return parse(copy(in, index, length));
  }

  private static byte[] copy(ByteBuf in, int index, int length) {
    byte[] copy = new byte[length];
    in.getBytes(index, copy);
    return copy;
  }

  /** The pooled payload of the frame being built, which now owns it. */
  private @Nullable PooledPayload handOver() {
    PooledPayload taken = pooledPayload;
    pooledPayload = null;
    return taken;
  }

  private static Object parse(byte[] body) {
    // The body is this decoder's own copy: bytes fields (a stream item's payload) alias it.
    PeerFrame frame = Frames.parseOwnedBody(PeerFrame.parser(), body);
    return switch (frame.getBodyCase()) {
      case REQUEST -> InboundRequest.of(frame.getRequest());
      case RESPONSE -> InboundResponse.of(frame.getResponse());
      case DATA -> InboundData.of(frame.getData());
      default -> frame;
    };
  }

  private InboundRequest request() {
    enterOnlyField();
    long streamId = 0;
    String source = "";
    String destination = "";
    String method = "";
    List<Header> headers = List.of();
    ByteString payload = ByteString.EMPTY;
    long timeoutMicros = 0;
    boolean oneWay = false;
    long leaderTerm = 0;
    while (position < limit) {
      switch (tag()) {
        case 1 << 3 -> streamId = varint();
        case 2 << 3 | 2 -> source = string();
        case 3 << 3 | 2 -> destination = string();
        case 4 << 3 | 2 -> method = string();
        case 5 << 3 | 2 -> headers = withHeader(headers);
        case 6 << 3 | 2 -> payload = payload();
        case 7 << 3 -> timeoutMicros = varint();
        case 8 << 3 -> oneWay = varint() != 0;
        case 9 << 3 -> leaderTerm = varint();
        default -> throw NOT_HANDLED;
      }
    }
    return new InboundRequest(
        streamId,
        source,
        destination,
        method,
        headers,
        payload,
        timeoutMicros,
        oneWay,
        leaderTerm,
        handOver());
  }

  private InboundResponse response() {
    enterOnlyField();
    long streamId = 0;
    Status status = null;
    List<Header> headers = List.of();
    ByteString payload = ByteString.EMPTY;
    while (position < limit) {
      switch (tag()) {
        case 1 << 3 -> streamId = varint();
        case 2 << 3 | 2 -> {
          if (status != null) {
            throw NOT_HANDLED; // a repeated message field merges: protobuf's business
          }
          status = status();
        }
        case 3 << 3 | 2 -> headers = withHeader(headers);
        case 4 << 3 | 2 -> payload = payload();
        default -> throw NOT_HANDLED;
      }
    }
    return new InboundResponse(
        streamId,
        status == null ? Status.getDefaultInstance() : status,
        headers,
        payload,
        handOver());
  }

  private InboundData data() {
    enterOnlyField();
    String source = "";
    String destination = "";
    List<Header> headers = List.of();
    ByteString payload = ByteString.EMPTY;
    long leaderTerm = 0;
    while (position < limit) {
      switch (tag()) {
        case 1 << 3 | 2 -> source = string();
        case 2 << 3 | 2 -> destination = string();
        case 3 << 3 | 2 -> headers = withHeader(headers);
        case 4 << 3 | 2 -> payload = payload();
        case 5 << 3 -> leaderTerm = varint();
        default -> throw NOT_HANDLED;
      }
    }
    return new InboundData(source, destination, headers, payload, leaderTerm, handOver());
  }

  /** Reads the frame's first field header and makes it the whole body, or gives up. */
  private void enterOnlyField() {
    position = 1;
    int length = length();
    if (position + length != limit) {
      throw NOT_HANDLED;
    }
  }

  private int tag() {
    long tag = varint();
    if (tag > Integer.MAX_VALUE) {
      throw NOT_HANDLED;
    }
    return (int) tag;
  }

  private long varint() {
    long value = 0;
    for (int bits = 0; bits < 64; bits += 7) {
      if (position >= limit) {
        throw NOT_HANDLED;
      }
      if (position >= filled) {
        fill(position + 1);
      }
      byte b = scratch[position++ - offset];
      value |= (long) (b & 0x7F) << bits;
      if (b >= 0) {
        return value;
      }
    }
    throw NOT_HANDLED;
  }

  /** A length prefix, checked against what is left. */
  private int length() {
    long length = varint();
    if (length > limit - position) {
      throw NOT_HANDLED;
    }
    return (int) length;
  }

  /** Makes sure the body's bytes up to {@code end} are in the scratch array. */
  private void need(int end) {
    if (end > filled) {
      fill(end);
    }
  }

  /**
   * Copies the body's bytes from the current position to {@code end}, and a few more, out of the
   * read buffer into the scratch array. Bytes between what was copied and the position (a payload
   * copied out on its own) are skipped.
   */
  private void fill(int end) {
    if (position > filled) {
      offset += position - filled; // bytes copied out on their own: no room kept for them
      filled = position;
    }
    if (end - offset > scratch.length) {
      makeRoom(end);
    }
    int to = Math.min(Math.min(limit, scratch.length + offset), Math.max(end, filled + READ_AHEAD));
    in.getBytes(start + filled, scratch, filled - offset, to - filled);
    filled = to;
  }

  /**
   * Moves the bytes copied but not yet read to the scratch array's start, into a larger scratch
   * array if they and the body up to {@code end} would not fit; gives the body to protobuf's parser
   * if that would be longer than {@value #LARGEST_SCRATCH} bytes.
   */
  private void makeRoom(int end) {
    if (end - position > LARGEST_SCRATCH) {
      throw NOT_HANDLED;
    }
    byte[] to = scratch;
    if (end - position > scratch.length) {
      to = new byte[Math.min(LARGEST_SCRATCH, Math.max(end - position, 2 * scratch.length))];
    }
    System.arraycopy(scratch, position - offset, to, 0, filled - position);
    scratch = to;
    offset = position;
  }

  private String string() {
    int length = length();
    need(position + length);
    String value = strings.get(scratch, position - offset, length);
    if (value == null) {
      throw NOT_HANDLED; // not valid UTF-8: protobuf's parser refuses it
    }
    position += length;
    return value;
  }

  /** A bytes field, copied out of the body. */
  private ByteString bytes() {
    return copied(length());
  }

  private ByteString copied(int length) {
    ByteString value;
    if (length == 0) {
      value = ByteString.EMPTY;
    } else if (position + length <= filled) {
      value = ByteString.copyFrom(scratch, position - offset, length);
    } else {
      // Not in the scratch array yet: straight from the read buffer into an array of its own.
      byte[] own = new byte[length];
      in.getBytes(start + position, own);
      value = UnsafeByteOperations.unsafeWrap(own);
    }
    position += length;
    return value;
  }

  /** A request's, response's or message's payload: in a pooled array when that is allowed. */
  private ByteString payload() {
    if (!pooledPayloads) {
      return bytes();
    }
    int length = length();
    if (length < SMALLEST_POOLED) {
      return copied(length);
    }
    if (pooledPayload != null) {
      throw NOT_HANDLED; // a repeated payload: the last one counts, protobuf's business
    }
    PooledPayload pooled = PayloadPool.lease(length);
    if (pooled == null) {
      return copied(length);
    }
    // Straight from the read buffer: the scratch array need not hold the payload.
    in.getBytes(start + position, pooled.array(), 0, length);
    pooledPayload = pooled;
    position += length;
    return UnsafeByteOperations.unsafeWrap(pooled.array(), 0, length);
  }

  private Status status() {
    int length = length();
    need(position + length);
    Status value;
    if (length == 0) {
      value = Status.getDefaultInstance();
    } else {
      try {
        value = Status.parser().parseFrom(scratch, position - offset, length);
      } catch (InvalidProtocolBufferException e) {
        throw NOT_HANDLED;
      }
    }
    position += length;
    return value;
  }

  private List<Header> withHeader(List<Header> headers) {
    int length = length();
    need(position + length);
    Header header;
    try {
      header = Header.parser().parseFrom(scratch, position - offset, length);
    } catch (InvalidProtocolBufferException e) {
      throw NOT_HANDLED;
    }
    position += length;
    List<Header> more = headers.isEmpty() ? new ArrayList<>(4) : headers;
    more.add(header);
    return more;
  }

  /**
   * The last strings decoded on a connection, by their bytes: a connection repeats a few urls and
   * method names, so most strings are found here instead of being decoded again.
   */
  private static final class StringCache {

    private static final int SIZE = 16;
    private static final int LONGEST = 512;

    private final byte[][] keys = new byte[SIZE][];
    private final String[] values = new String[SIZE];
    private int next;

    /** The string of these bytes, or null if they are not valid UTF-8. */
    String get(byte[] bytes, int offset, int length) {
      if (length == 0) {
        return "";
      }
      for (int i = 0; i < SIZE; i++) {
        byte[] key = keys[i];
        if (key != null
            && key.length == length
            && Arrays.equals(key, 0, length, bytes, offset, offset + length)) {
          return values[i];
        }
      }
      if (!UnsafeByteOperations.unsafeWrap(bytes, offset, length).isValidUtf8()) {
        return null;
      }
      String value = new String(bytes, offset, length, StandardCharsets.UTF_8);
      if (length <= LONGEST) {
        keys[next] = Arrays.copyOfRange(bytes, offset, offset + length);
        values[next] = value;
        next = (next + 1) % SIZE;
      }
      return value;
    }
  }
}

package io.skymesh.benchmarks;

import com.google.protobuf.ByteString;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.handler.codec.LengthFieldPrepender;
import io.netty.handler.codec.protobuf.ProtobufDecoder;
import io.netty.handler.codec.protobuf.ProtobufEncoder;
import io.netty.util.ReferenceCountUtil;
import io.skymesh.codec.FrameDecoder;
import io.skymesh.codec.FrameEncoder;
import io.skymesh.codec.Frames;
import io.skymesh.codec.Headers;
import io.skymesh.proto.Data;
import io.skymesh.proto.PeerFrame;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Encodes and decodes {@code PeerFrame(Data)} frames with Skymesh's codec and, as the baseline in
 * the same run, with Netty's own pipeline for the same wire format: {@code
 * LengthFieldBasedFrameDecoder(max, 0, 4, 0, 4)} and {@code ProtobufDecoder} to decode, {@code
 * LengthFieldPrepender(4)} and {@code ProtobufEncoder} to encode.
 *
 * <p>Both sides are measured the same way, through an {@link EmbeddedChannel} holding their
 * handlers. Decoding writes a prepared pooled direct buffer holding one frame, or {@value
 * #FRAMES_PER_READ} frames for the batched variants (as a socket read delivers it), and reads the
 * messages out; encoding writes a prepared message and reads and releases the buffers that come
 * out, using the channel's default allocator. One operation is one frame, so throughput in bytes is
 * {@code MB/s = ops/s × frame bytes / 10^6}; the frame size of each payload size (length prefix
 * included) is printed at the start of each trial.
 *
 * <pre>{@code
 * java -jar benchmarks/target/benchmarks.jar Codec
 * }</pre>
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@State(Scope.Thread)
public class CodecBenchmark {

  /** Frames in one read in the batched decode benchmarks. */
  static final int FRAMES_PER_READ = 16;

  private static final int MAX_FRAME_LENGTH = Frames.DEFAULT_MAX_FRAME_LENGTH;

  /** The size of the {@code Data} payload in bytes. */
  @Param({"64", "1024", "65536"})
  public int payloadSize;

  private PeerFrame message;
  private ByteBuf frame;
  private ByteBuf frames;
  private EmbeddedChannel skymeshDecoder;
  private EmbeddedChannel nettyDecoder;
  private EmbeddedChannel skymeshEncoder;
  private EmbeddedChannel nettyEncoder;

  /** Prepares the message, its encoded frames and one channel per codec, and checks them. */
  @Setup(Level.Trial)
  public void setUp() {
    byte[] payload = new byte[payloadSize];
    new Random(42).nextBytes(payload);
    message =
        PeerFrame.newBuilder()
            .setData(
                Data.newBuilder()
                    .setSource("orders.prod.checkout/7f3c2a1e")
                    .setDestination("billing.prod.invoices/0b9d44e2")
                    .addAllHeaders(
                        Headers.fromMap(
                            Map.of(
                                "traceparent",
                                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")))
                    .addAllHeaders(
                        Headers.fromMap(Map.of("content-type", "application/x-protobuf")))
                    .setPayload(ByteString.copyFrom(payload)))
            .build();

    ByteBufAllocator pooled = PooledByteBufAllocator.DEFAULT;
    frame = pooled.directBuffer();
    Frames.encode(message, frame, MAX_FRAME_LENGTH);
    frames = pooled.directBuffer();
    for (int i = 0; i < FRAMES_PER_READ; i++) {
      Frames.encode(message, frames, MAX_FRAME_LENGTH);
    }

    skymeshDecoder = new EmbeddedChannel(new FrameDecoder<>(PeerFrame.parser(), MAX_FRAME_LENGTH));
    // Netty's maximum counts the length field, Skymesh's does not.
    nettyDecoder =
        new EmbeddedChannel(
            new LengthFieldBasedFrameDecoder(
                MAX_FRAME_LENGTH + Frames.LENGTH_FIELD_LENGTH, 0, Frames.LENGTH_FIELD_LENGTH, 0, 4),
            new ProtobufDecoder(PeerFrame.getDefaultInstance()));
    skymeshEncoder = new EmbeddedChannel(new FrameEncoder(MAX_FRAME_LENGTH));
    nettyEncoder =
        new EmbeddedChannel(
            new LengthFieldPrepender(Frames.LENGTH_FIELD_LENGTH), new ProtobufEncoder());

    checkDecodes(skymeshDecoder);
    checkDecodes(nettyDecoder);
    checkEncodes(skymeshEncoder);
    checkEncodes(nettyEncoder);
    System.out.printf(
        "%nframe: %d bytes (payload %d, body %d, length prefix %d)%n",
        frame.readableBytes(),
        payloadSize,
        message.getSerializedSize(),
        Frames.LENGTH_FIELD_LENGTH);
  }

  /**
   * Checks that the decoders still decode the prepared frames and hold no reference to them, closes
   * the channels, failing if anything was left in them, and releases the frames.
   */
  @TearDown(Level.Trial)
  public void tearDown() {
    try {
      checkDecodes(skymeshDecoder);
      checkDecodes(nettyDecoder);
      if (frame.refCnt() != 1 || frames.refCnt() != 1) {
        throw new IllegalStateException(
            "prepared frames retained: refCnt " + frame.refCnt() + ", " + frames.refCnt());
      }
      for (EmbeddedChannel channel :
          new EmbeddedChannel[] {skymeshDecoder, nettyDecoder, skymeshEncoder, nettyEncoder}) {
        if (channel.finishAndReleaseAll()) {
          throw new IllegalStateException("messages left in " + channel.pipeline().names());
        }
      }
    } finally {
      frame.release();
      frames.release();
    }
  }

  /**
   * Decodes one frame with Skymesh's {@link FrameDecoder}.
   *
   * @param blackhole receives the message
   */
  @Benchmark
  public void decodeSkymesh(Blackhole blackhole) {
    decode(skymeshDecoder, frame, blackhole);
  }

  /**
   * Decodes one frame with Netty's {@code LengthFieldBasedFrameDecoder} and {@code
   * ProtobufDecoder}.
   *
   * @param blackhole receives the message
   */
  @Benchmark
  public void decodeNetty(Blackhole blackhole) {
    decode(nettyDecoder, frame, blackhole);
  }

  /**
   * Decodes {@value #FRAMES_PER_READ} frames arriving in one read, as on a loaded connection, with
   * Skymesh's {@link FrameDecoder}. Scored per frame.
   *
   * @param blackhole receives the messages
   */
  @Benchmark
  @OperationsPerInvocation(FRAMES_PER_READ)
  public void decodeBatchSkymesh(Blackhole blackhole) {
    decode(skymeshDecoder, frames, blackhole);
  }

  /**
   * Decodes {@value #FRAMES_PER_READ} frames arriving in one read, as on a loaded connection, with
   * Netty's {@code LengthFieldBasedFrameDecoder} and {@code ProtobufDecoder}. Scored per frame.
   *
   * @param blackhole receives the messages
   */
  @Benchmark
  @OperationsPerInvocation(FRAMES_PER_READ)
  public void decodeBatchNetty(Blackhole blackhole) {
    decode(nettyDecoder, frames, blackhole);
  }

  /**
   * Encodes one message with Skymesh's {@link FrameEncoder}: one buffer per frame.
   *
   * @param blackhole receives the buffers before they are released
   */
  @Benchmark
  public void encodeSkymesh(Blackhole blackhole) {
    encode(skymeshEncoder, blackhole);
  }

  /**
   * Encodes one message with Netty's {@code ProtobufEncoder} and {@code LengthFieldPrepender}: a
   * buffer for the length and one wrapping the serialized body.
   *
   * @param blackhole receives the buffers before they are released
   */
  @Benchmark
  public void encodeNetty(Blackhole blackhole) {
    encode(nettyEncoder, blackhole);
  }

  private static void decode(EmbeddedChannel channel, ByteBuf input, Blackhole blackhole) {
    // The prepared buffer itself, as a socket read delivers a whole buffer rather than a derived
    // one: the decoders consume it and release the extra reference within writeInbound, and its
    // reader index is rewound for the next invocation.
    channel.writeInbound(input.retain());
    input.readerIndex(0);
    for (Object decoded; (decoded = channel.readInbound()) != null; ) {
      blackhole.consume(decoded);
    }
  }

  private void encode(EmbeddedChannel channel, Blackhole blackhole) {
    channel.writeOutbound(message);
    for (Object encoded; (encoded = channel.readOutbound()) != null; ) {
      blackhole.consume(encoded);
      ReferenceCountUtil.release(encoded);
    }
  }

  private void checkDecodes(EmbeddedChannel channel) {
    channel.writeInbound(frames.retain());
    frames.readerIndex(0);
    for (int i = 0; i < FRAMES_PER_READ; i++) {
      Object decoded = channel.readInbound();
      if (!message.equals(decoded)) {
        throw new IllegalStateException(
            channel.pipeline().names() + " decoded " + decoded + " instead of the message");
      }
    }
    if (channel.readInbound() != null) {
      throw new IllegalStateException(channel.pipeline().names() + " decoded too many messages");
    }
  }

  private void checkEncodes(EmbeddedChannel channel) {
    channel.writeOutbound(message);
    ByteBuf encoded = ByteBufAllocator.DEFAULT.heapBuffer();
    try {
      for (Object out; (out = channel.readOutbound()) != null; ) {
        try {
          encoded.writeBytes((ByteBuf) out);
        } finally {
          ReferenceCountUtil.release(out);
        }
      }
      if (!ByteBufUtil.equals(frame, encoded)) {
        throw new IllegalStateException(
            channel.pipeline().names() + " encoded other bytes than the frame");
      }
    } finally {
      encoded.release();
    }
  }
}

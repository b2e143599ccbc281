package io.skymesh.codec;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.skymesh.proto.Data;
import io.skymesh.proto.Error;
import io.skymesh.proto.KeepAlive;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.PeerFrame;
import io.skymesh.proto.Ping;
import io.skymesh.proto.Status;
import io.skymesh.proto.StatusCode;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Pins the exact bytes of a few frames, so that a client written in another language from the
 * .proto files alone can be checked against them. The same vectors are in docs/wire-format.md.
 */
class GoldenFramesTest {

  @Test
  void pingFrame() {
    PeerFrame frame =
        PeerFrame.newBuilder().setPing(Ping.newBuilder().setSequence(1).setSentNanos(2)).build();

    assertGolden(frame, PeerFrame.parser(), "00000006" + "3204" + "0801" + "1002");
  }

  @Test
  void dataFrameWithAHeader() {
    PeerFrame frame =
        PeerFrame.newBuilder()
            .setData(
                Data.newBuilder()
                    .setSource("a.b.c/1")
                    .setDestination("a.b.d/2")
                    .addAllHeaders(Headers.fromMap(Map.of("k", "v")))
                    .setPayload(ByteString.copyFromUtf8("hi")))
            .build();

    assertGolden(
        frame,
        PeerFrame.parser(),
        "00000020"
            + "121e"
            + "0a07612e622e632f31"
            + "1207612e622e642f32"
            + "1a060a016b120176"
            + "22026869");
  }

  @Test
  void keepAliveRequest() {
    NameClientFrame frame =
        NameClientFrame.newBuilder()
            .setRequestId(7)
            .setKeepAlive(KeepAlive.getDefaultInstance())
            .build();

    assertGolden(frame, NameClientFrame.parser(), "00000004" + "0807" + "1a00");
  }

  @Test
  void errorAnswer() {
    NameServerFrame frame =
        NameServerFrame.newBuilder()
            .setError(
                Error.newBuilder()
                    .setRequestId(7)
                    .setStatus(
                        Status.newBuilder().setCode(StatusCode.ALREADY_EXISTS).setMessage("taken")))
            .build();

    assertGolden(
        frame,
        NameServerFrame.parser(),
        "0000000f" + "120d" + "0807" + "1209" + "0806" + "120574616b656e");
  }

  @Test
  void lengthPrefixIsBigEndian() {
    PeerFrame frame =
        PeerFrame.newBuilder()
            .setData(Data.newBuilder().setPayload(ByteString.copyFrom(new byte[256])))
            .build();
    ByteBuf encoded = Frames.encode(ByteBufAllocator.DEFAULT, frame, 1024);
    try {
      assertThat(encoded.readableBytes()).isEqualTo(4 + 262);
      assertThat(ByteBufUtil.hexDump(encoded, 0, 10)).isEqualTo("00000106" + "128302" + "228002");
    } finally {
      encoded.release();
    }
  }

  private static <T extends MessageLite> void assertGolden(T frame, Parser<T> parser, String hex) {
    ByteBuf encoded = Frames.encode(ByteBufAllocator.DEFAULT, frame, 1024);
    try {
      assertThat(ByteBufUtil.hexDump(encoded)).isEqualTo(hex);
    } finally {
      encoded.release();
    }
    EmbeddedChannel channel = new EmbeddedChannel(new FrameDecoder<>(parser, 1024));
    try {
      channel.writeInbound(Unpooled.wrappedBuffer(ByteBufUtil.decodeHexDump(hex)));
      assertThat((Object) channel.readInbound()).isEqualTo(frame);
    } finally {
      channel.finishAndReleaseAll();
    }
  }
}

package io.skymesh.codec;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import io.skymesh.proto.Data;
import io.skymesh.proto.PeerFrame;
import io.skymesh.proto.Ping;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.DoubleRange;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

class FrameSplitPropertyTest {

  @Property(tries = 300)
  void anyFramesSplitAtAnyPointsDecodeToThemselves(
      @ForAll("frames") @Size(min = 1, max = 20) List<PeerFrame> frames,
      @ForAll @Size(max = 30) List<@DoubleRange(min = 0, max = 1) Double> cutFractions) {
    assertThat(decodeSplit(frames, cutFractions, ByteBuf::retainedSlice))
        .containsExactlyElementsOf(frames);
  }

  /**
   * The same with every piece in a buffer of its own, as a read gives, sometimes with room after
   * its bytes: the decoder's cumulator then appends the next piece in place or, where there is no
   * room, moves the partial frame's unread bytes into a new buffer (UnreadBytesCumulator).
   */
  @Property(tries = 200)
  void framesSplitIntoBuffersWithOrWithoutRoomDecodeToThemselves(
      @ForAll("frames") @Size(min = 1, max = 12) List<PeerFrame> frames,
      @ForAll @Size(max = 20) List<@DoubleRange(min = 0, max = 1) Double> cutFractions,
      @ForAll @IntRange(max = 3000) int spare) {
    assertThat(
            decodeSplit(
                frames,
                cutFractions,
                (all, from, length) ->
                    PooledByteBufAllocator.DEFAULT
                        .buffer(length + spare % (length + 1))
                        .writeBytes(all, from, length)))
        .containsExactlyElementsOf(frames);
  }

  /** Cuts one piece of the encoded frames into the buffer written to the decoder. */
  private interface Slicer {
    ByteBuf piece(ByteBuf all, int from, int length);
  }

  /** Encodes the frames, writes them to a decoder in pieces cut at the fractions, and decodes. */
  private static List<PeerFrame> decodeSplit(
      List<PeerFrame> frames, List<Double> cutFractions, Slicer slicer) {
    ByteBuf all = SampleFrames.encodeAll(frames);
    EmbeddedChannel channel =
        new EmbeddedChannel(
            new FrameDecoder<>(PeerFrame.parser(), Frames.DEFAULT_MAX_FRAME_LENGTH));
    try {
      int length = all.readableBytes();
      TreeSet<Integer> cuts = new TreeSet<>();
      cutFractions.forEach(f -> cuts.add((int) (f * length)));
      cuts.add(length);
      int from = 0;
      for (int cut : cuts) {
        channel.writeInbound(slicer.piece(all, from, cut - from));
        from = cut;
      }
      List<PeerFrame> decoded = new ArrayList<>();
      for (PeerFrame frame; (frame = channel.readInbound()) != null; ) {
        decoded.add(frame);
      }
      return decoded;
    } finally {
      all.release();
      channel.finishAndReleaseAll();
    }
  }

  @Provide
  Arbitrary<List<PeerFrame>> frames() {
    Arbitrary<String> names = Arbitraries.strings().withCharRange('a', 'z').ofMaxLength(20);
    Arbitrary<PeerFrame> data =
        Combinators.combine(
                names,
                names,
                Arbitraries.maps(names, names).ofMaxSize(3),
                Arbitraries.bytes().array(byte[].class).ofMaxSize(3000))
            .as(
                (source, destination, headers, payload) ->
                    PeerFrame.newBuilder()
                        .setData(
                            Data.newBuilder()
                                .setSource(source)
                                .setDestination(destination)
                                .addAllHeaders(Headers.fromMap(headers))
                                .setPayload(ByteString.copyFrom(payload)))
                        .build());
    Arbitrary<PeerFrame> ping =
        Arbitraries.longs()
            .map(n -> PeerFrame.newBuilder().setPing(Ping.newBuilder().setSentNanos(n)).build());
    Arbitrary<PeerFrame> empty = Arbitraries.just(PeerFrame.getDefaultInstance());
    return Arbitraries.frequencyOf(
            net.jqwik.api.Tuple.of(8, data),
            net.jqwik.api.Tuple.of(3, ping),
            net.jqwik.api.Tuple.of(1, empty))
        .list();
  }
}

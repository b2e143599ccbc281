package io.skymesh.mesh.internal.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.skymesh.codec.CorruptFrameException;
import io.skymesh.proto.Data;
import io.skymesh.proto.Header;
import io.skymesh.proto.PeerFrame;
import io.skymesh.proto.Ping;
import io.skymesh.proto.Request;
import io.skymesh.proto.Response;
import io.skymesh.proto.Status;
import io.skymesh.proto.StatusCode;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/**
 * The hand-written {@code Request} and {@code Response} codec against protobuf-java's generated
 * one: the same bytes out, the same fields in, and protobuf's verdict on anything unusual.
 */
class HandCodecPropertyTest {

  @Property(tries = 400)
  void aHandWrittenRequestIsByteForByteTheGeneratedOneAndDecodesToItsFields(
      @ForAll long streamId,
      @ForAll("texts") String source,
      @ForAll("texts") String destination,
      @ForAll("texts") String method,
      @ForAll("headers") Map<String, String> headers,
      @ForAll("payloads") byte[] payload,
      @ForAll long timeoutMicros,
      @ForAll boolean oneWay,
      @ForAll long leaderTerm) {
    OutboundRequest hand =
        new OutboundRequest(
            streamId,
            ByteString.copyFromUtf8(source),
            ByteString.copyFromUtf8(destination),
            method,
            headers,
            ByteString.copyFrom(payload),
            timeoutMicros,
            oneWay,
            leaderTerm);
    Request.Builder request =
        Request.newBuilder()
            .setStreamId(streamId)
            .setSource(source)
            .setDestination(destination)
            .setMethod(method)
            .setPayload(ByteString.copyFrom(payload))
            .setTimeoutMicros(timeoutMicros)
            .setOneWay(oneWay)
            .setLeaderTerm(leaderTerm);
    headers.forEach((k, v) -> request.addHeaders(Header.newBuilder().setKey(k).setValue(v)));
    PeerFrame generated = PeerFrame.newBuilder().setRequest(request).build();

    assertThat(hand.toByteArray()).isEqualTo(generated.toByteArray());
    assertThat(hand.bodyLength()).isEqualTo(generated.getSerializedSize());
    assertThat(decode(new PeerFrameDecoder(), generated.toByteArray()))
        .isEqualTo(InboundRequest.of(generated.getRequest()));
  }

  @Property(tries = 300)
  void aHandWrittenResponseIsByteForByteTheGeneratedOneAndDecodesToItsFields(
      @ForAll long streamId,
      @ForAll StatusCode code,
      @ForAll("texts") String message,
      @ForAll("headers") Map<String, String> headers,
      @ForAll("payloads") byte[] payload) {
    if (code == StatusCode.UNRECOGNIZED) {
      return;
    }
    Status status = Status.newBuilder().setCode(code).setMessage(message).build();
    OutboundResponse hand =
        new OutboundResponse(streamId, status, headers, ByteString.copyFrom(payload));
    Response.Builder response =
        Response.newBuilder()
            .setStreamId(streamId)
            .setStatus(status)
            .setPayload(ByteString.copyFrom(payload));
    headers.forEach((k, v) -> response.addHeaders(Header.newBuilder().setKey(k).setValue(v)));
    PeerFrame generated = PeerFrame.newBuilder().setResponse(response).build();

    assertThat(hand.toByteArray()).isEqualTo(generated.toByteArray());
    assertThat(decode(new PeerFrameDecoder(), generated.toByteArray()))
        .isEqualTo(InboundResponse.of(generated.getResponse()));
  }

  @Property(tries = 300)
  void aHandWrittenDataFrameIsByteForByteTheGeneratedOneAndDecodesToItsFields(
      @ForAll("texts") String source,
      @ForAll("texts") String destination,
      @ForAll("headers") Map<String, String> headers,
      @ForAll("payloads") byte[] payload,
      @ForAll long leaderTerm) {
    OutboundData hand =
        new OutboundData(
            ByteString.copyFromUtf8(source),
            ByteString.copyFromUtf8(destination),
            headers,
            ByteString.copyFrom(payload),
            leaderTerm);
    Data.Builder data =
        Data.newBuilder()
            .setSource(source)
            .setDestination(destination)
            .setPayload(ByteString.copyFrom(payload))
            .setLeaderTerm(leaderTerm);
    headers.forEach((k, v) -> data.addHeaders(Header.newBuilder().setKey(k).setValue(v)));
    PeerFrame generated = PeerFrame.newBuilder().setData(data).build();

    assertThat(hand.toByteArray()).isEqualTo(generated.toByteArray());
    assertThat(decode(new PeerFrameDecoder(), generated.toByteArray()))
        .isEqualTo(InboundData.of(generated.getData()));
  }

  @Property(tries = 200)
  void pooledDecodingGivesTheSameFieldsWithLargePayloadsInPooledBuffers(
      @ForAll long streamId,
      @ForAll("texts") String method,
      @ForAll("headers") Map<String, String> headers,
      @ForAll("payloads") byte[] payload) {
    PeerFrame request =
        PeerFrame.newBuilder()
            .setRequest(sample().toBuilder().setStreamId(streamId).setMethod(method))
            .build();
    Request.Builder withFields = request.getRequest().toBuilder();
    headers.forEach((k, v) -> withFields.addHeaders(Header.newBuilder().setKey(k).setValue(v)));
    request =
        PeerFrame.newBuilder()
            .setRequest(withFields.setPayload(ByteString.copyFrom(payload)))
            .build();
    PeerFrame response =
        PeerFrame.newBuilder()
            .setResponse(
                Response.newBuilder()
                    .setStreamId(streamId)
                    .setPayload(ByteString.copyFrom(payload)))
            .build();
    PeerFrame data =
        PeerFrame.newBuilder()
            .setData(
                Data.newBuilder()
                    .setSource("game.zone1.lobby/1")
                    .setDestination("game.zone1.chat/1")
                    .setPayload(ByteString.copyFrom(payload))
                    .setLeaderTerm(streamId))
            .build();
    PeerFrameDecoder decoder = new PeerFrameDecoder(true);
    boolean view = payload.length >= PeerFrameDecoder.SMALLEST_POOLED;

    InboundRequest decodedRequest = (InboundRequest) decode(decoder, request.toByteArray());
    InboundResponse decodedResponse = (InboundResponse) decode(decoder, response.toByteArray());
    InboundData decodedData = (InboundData) decode(decoder, data.toByteArray());

    try {
      // The read buffer is released by now; the pooled payloads are buffers of their own.
      assertThat(decodedRequest.toProto())
          .isEqualTo(InboundRequest.of(request.getRequest()).toProto());
      assertThat(decodedResponse.toProto())
          .isEqualTo(InboundResponse.of(response.getResponse()).toProto());
      assertThat(decodedData.toProto()).isEqualTo(data.getData());
      assertThat(decodedRequest.pooledPayload() != null).isEqualTo(view);
      assertThat(decodedResponse.pooledPayload() != null).isEqualTo(view);
      assertThat(decodedData.pooledPayload() != null).isEqualTo(view);
    } finally {
      decodedRequest.release();
      decodedResponse.release();
      decodedData.release();
    }
    if (view) {
      // Released on the thread that leased it: back in its pool, the next lease of that size.
      PooledPayload again = PayloadPool.lease(payload.length);
      assertThat(again).isSameAs(decodedData.pooledPayload());
      again.release();
    }
  }

  @Property(tries = 200)
  void theHandDecoderTakesTheFieldsInAnyOrderAroundAPayloadCopiedStraightOut(
      @ForAll("payloads") byte[] payload,
      @ForAll("texts") String method,
      @ForAll long streamId,
      @ForAll boolean pooled)
      throws java.io.IOException {
    // Fields in an order protobuf-java does not write but must accept: the payload first, the
    // strings and a header after it, so the decoder reads on past the payload it skipped.
    byte[] body =
        requestFrame(
            out -> {
              out.writeBytes(6, ByteString.copyFrom(payload));
              out.writeString(4, method);
              out.writeString(2, "game.zone1.caller/1");
              out.writeMessage(5, Header.newBuilder().setKey("k").setValue("v").build());
              out.writeString(3, "game.zone1.echo/1");
              out.writeUInt64(1, streamId);
              out.writeUInt64(7, 250_000);
            });
    PeerFrameDecoder decoder = new PeerFrameDecoder(pooled);

    InboundRequest decoded = (InboundRequest) decode(decoder, body);

    try {
      assertThat(decoded.toProto())
          .isEqualTo(InboundRequest.of(PeerFrame.parseFrom(body).getRequest()).toProto());
      assertThat(decoded.pooledPayload() != null)
          .isEqualTo(pooled && payload.length >= PeerFrameDecoder.SMALLEST_POOLED);
    } finally {
      decoded.release();
    }
  }

  @Example
  void malformedFramesAroundAPooledPayloadAreCorruptAndReleaseWhatTheyTook() throws Exception {
    byte[] payload = new byte[3 * PeerFrameDecoder.SMALLEST_POOLED];
    new Random(11).nextBytes(payload);
    byte[] bytes =
        PeerFrame.newBuilder()
            .setRequest(sample().toBuilder().setPayload(ByteString.copyFrom(payload)))
            .build()
            .toByteArray();
    byte[] truncated = java.util.Arrays.copyOf(bytes, bytes.length - 100);
    // A method name that is not UTF-8 after the payload: the hand decoder has pooled the payload
    // by the time it finds out, and must give it back before protobuf's parser takes over.
    byte[] badUtf8AfterPayload =
        requestFrame(
            out -> {
              out.writeBytes(6, ByteString.copyFrom(payload));
              out.writeBytes(4, ByteString.copyFrom(new byte[] {(byte) 0xC3, 0x28}));
            });
    PeerFrameDecoder decoder = new PeerFrameDecoder(true);

    assertThatThrownBy(() -> decode(decoder, truncated))
        .isInstanceOf(CorruptFrameException.class)
        .hasMessageContaining("does not parse");
    assertThatThrownBy(() -> decode(decoder, badUtf8AfterPayload))
        .isInstanceOf(CorruptFrameException.class)
        .hasMessageContaining("UTF-8");
    // Nothing pooled leaks (the leak detector runs at paranoid) and the decoder is not left in a
    // bad state: the whole frame decodes.
    InboundRequest decoded = (InboundRequest) decode(decoder, bytes);
    try {
      assertThat(decoded.payload()).isEqualTo(ByteString.copyFrom(payload));
      assertThat(decoded.timeoutMicros()).isEqualTo(sample().getTimeoutMicros());
    } finally {
      decoded.release();
    }
  }

  @Example
  void aPayloadCopiedOutOfTheScratchArrayOutlivesTheNextFrame() {
    PeerFrameDecoder decoder = new PeerFrameDecoder();
    ByteString first = ByteString.copyFromUtf8("first payload, long enough to be seen");
    ByteString second = ByteString.copyFromUtf8("SECOND PAYLOAD, LONG ENOUGH TO BE SEEN");

    InboundRequest one =
        (InboundRequest)
            decode(
                decoder,
                PeerFrame.newBuilder()
                    .setRequest(sample().toBuilder().setPayload(first))
                    .build()
                    .toByteArray());
    decode(
        decoder,
        PeerFrame.newBuilder()
            .setRequest(sample().toBuilder().setPayload(second))
            .build()
            .toByteArray());

    assertThat(one.payload()).isEqualTo(first);
    assertThat(one.pooledPayload()).isNull();
  }

  @Example
  void aBodyLongerThanTheScratchArrayDecodesToo() {
    byte[] big = new byte[200_000];
    new Random(7).nextBytes(big);
    PeerFrame frame =
        PeerFrame.newBuilder()
            .setRequest(sample().toBuilder().setPayload(ByteString.copyFrom(big)))
            .build();

    assertThat(decode(new PeerFrameDecoder(), frame.toByteArray()))
        .isEqualTo(InboundRequest.of(frame.getRequest()));
  }

  @Property(tries = 60)
  void aBodyLongerThanTheScratchArrayKeepsOnlyItsOtherFieldsThereWhenItsPayloadIsPooled(
      @ForAll("largePayloadLengths") int payloadLength,
      @ForAll("texts") String method,
      @ForAll @IntRange(max = 40) int headersAfter)
      throws java.io.IOException {
    byte[] payload = new byte[payloadLength];
    new Random(payloadLength).nextBytes(payload);
    // The payload first, then fields enough to outgrow a small scratch array, so the decoder
    // reads on past a payload longer than its scratch array could hold.
    byte[] body =
        requestFrame(
            out -> {
              out.writeBytes(6, ByteString.copyFrom(payload));
              out.writeString(4, method);
              for (int i = 0; i < headersAfter; i++) {
                out.writeMessage(
                    5, Header.newBuilder().setKey("key-" + i).setValue("v".repeat(i * 3)).build());
              }
              out.writeString(2, "game.zone1.caller/1");
              out.writeUInt64(1, 7);
            });
    PeerFrame expected = PeerFrame.parseFrom(body);
    PeerFrameDecoder decoder = new PeerFrameDecoder(true);

    InboundRequest decoded = (InboundRequest) decode(decoder, body);
    InboundRequest again = (InboundRequest) decode(decoder, body);

    try {
      assertThat(decoded.toProto()).isEqualTo(InboundRequest.of(expected.getRequest()).toProto());
      assertThat(again.toProto()).isEqualTo(decoded.toProto());
      assertThat(decoded.pooledPayload() != null).isEqualTo(payloadLength <= PayloadPool.LARGEST);
    } finally {
      decoded.release();
      again.release();
    }
  }

  @Example
  void aLongBodyWhoseOtherFieldsOutgrowTheScratchArrayGoesToProtobufWhole() throws Exception {
    byte[] payload = new byte[PeerFrameDecoder.LARGEST_SCRATCH];
    new Random(5).nextBytes(payload);
    String longValue = "x".repeat(PeerFrameDecoder.LARGEST_SCRATCH + 10);
    byte[] body =
        requestFrame(
            out -> {
              out.writeBytes(6, ByteString.copyFrom(payload));
              out.writeMessage(5, Header.newBuilder().setKey("k").setValue(longValue).build());
              out.writeString(4, "Echo");
            });
    PeerFrameDecoder decoder = new PeerFrameDecoder(true);

    InboundRequest decoded = (InboundRequest) decode(decoder, body);

    try {
      // The pooled payload taken before the header was found too long went back (the leak
      // detector runs at paranoid); protobuf's parser decoded the frame, aliasing a copy of it.
      assertThat(decoded.toProto())
          .isEqualTo(InboundRequest.of(PeerFrame.parseFrom(body).getRequest()).toProto());
      assertThat(decoded.pooledPayload()).isNull();
    } finally {
      decoded.release();
    }
  }

  @Example
  void aResponseWithoutStatusIsOk() {
    PeerFrame frame =
        PeerFrame.newBuilder().setResponse(Response.newBuilder().setStreamId(3)).build();

    InboundResponse decoded = (InboundResponse) decode(new PeerFrameDecoder(), frame.toByteArray());

    assertThat(decoded.status().getCode()).isEqualTo(StatusCode.OK);
    assertThat(decoded.streamId()).isEqualTo(3);
  }

  @Example
  void whatTheHandDecoderDoesNotTakeProtobufDecodesTheSame() {
    PeerFrame request = PeerFrame.newBuilder().setRequest(sample()).build();
    byte[] bytes = request.toByteArray();
    // A field this version does not know (a newer peer's), inside the request and after it.
    byte[] unknownInside = withRequestField(bytes, new byte[] {(byte) 0xA0, 0x01, 0x05});
    byte[] unknownAfter = concat(bytes, new byte[] {(byte) 0xA0, 0x01, 0x05});
    // The request field twice: protobuf merges the two.
    byte[] twice =
        concat(
            bytes,
            PeerFrame.newBuilder()
                .setRequest(Request.newBuilder().setMethod("Other"))
                .build()
                .toByteArray());

    PeerFrameDecoder decoder = new PeerFrameDecoder();
    assertThat(decode(decoder, unknownInside)).isEqualTo(InboundRequest.of(sample()));
    assertThat(decode(decoder, unknownAfter)).isEqualTo(InboundRequest.of(sample()));
    assertThat(((InboundRequest) decode(decoder, twice)).method()).isEqualTo("Other");
    assertThat(((InboundRequest) decode(decoder, twice)).source()).isEqualTo(sample().getSource());
  }

  @Example
  void otherFramesAreProtobufMessages() {
    PeerFrame ping = PeerFrame.newBuilder().setPing(Ping.newBuilder().setSequence(9)).build();

    assertThat(decode(new PeerFrameDecoder(), ping.toByteArray())).isEqualTo(ping);
  }

  @Example
  void malformedRequestsAreCorruptFramesAsProtobufSaysNotSomethingElse() {
    byte[] bytes = PeerFrame.newBuilder().setRequest(sample()).build().toByteArray();
    byte[] truncated = java.util.Arrays.copyOf(bytes, bytes.length - 3);
    // The method's bytes replaced by an invalid UTF-8 sequence of the same length.
    byte[] badUtf8 = bytes.clone();
    int method = indexOf(badUtf8, "Echo".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    badUtf8[method] = (byte) 0xC3;
    badUtf8[method + 1] = (byte) 0x28;

    PeerFrameDecoder decoder = new PeerFrameDecoder();
    assertThatThrownBy(() -> decode(decoder, truncated))
        .isInstanceOf(CorruptFrameException.class)
        .hasMessageContaining("does not parse");
    assertThatThrownBy(() -> decode(decoder, badUtf8))
        .isInstanceOf(CorruptFrameException.class)
        .hasMessageContaining("UTF-8");
    // The decoder is not left in a bad state by either.
    assertThat(decode(decoder, bytes)).isEqualTo(InboundRequest.of(sample()));
  }

  @Example
  void aConnectionsRepeatedStringsAreDecodedOnce() {
    byte[] bytes = PeerFrame.newBuilder().setRequest(sample()).build().toByteArray();
    PeerFrameDecoder decoder = new PeerFrameDecoder();

    InboundRequest first = (InboundRequest) decode(decoder, bytes);
    InboundRequest second = (InboundRequest) decode(decoder, bytes);

    assertThat(second.source()).isSameAs(first.source());
    assertThat(second.destination()).isSameAs(first.destination());
    assertThat(second.method()).isSameAs(first.method());
    assertThat(second.payload()).isEqualTo(first.payload());
  }

  @Provide
  Arbitrary<String> texts() {
    return Arbitraries.oneOf(
        Arbitraries.strings().ofMaxLength(40),
        Arbitraries.of("", "game.zone1.echo/1", "Echo", "é✓漢字"));
  }

  @Provide
  Arbitrary<Integer> largePayloadLengths() {
    int largest = PeerFrameDecoder.LARGEST_SCRATCH;
    return Arbitraries.oneOf(
        Arbitraries.integers().between(largest - 200, largest + 200),
        Arbitraries.integers().between(largest + 200, 3 * largest));
  }

  @Provide
  Arbitrary<Map<String, String>> headers() {
    return Arbitraries.maps(texts(), texts()).ofMaxSize(3).map(LinkedHashMap::new);
  }

  @Provide
  Arbitrary<byte[]> payloads() {
    return Arbitraries.bytes()
        .array(byte[].class)
        .ofMinSize(0)
        .ofMaxSize(3 * PeerFrameDecoder.SMALLEST_POOLED)
        .edgeCases(edges -> edges.add(new byte[PeerFrameDecoder.SMALLEST_POOLED]));
  }

  private static Request sample() {
    return Request.newBuilder()
        .setStreamId(42)
        .setSource("game.zone1.caller/1")
        .setDestination("game.zone1.echo/1")
        .setMethod("Echo")
        .addHeaders(Header.newBuilder().setKey("k").setValue("v"))
        .setPayload(ByteString.copyFromUtf8("payload"))
        .setTimeoutMicros(1_000_000)
        .build();
  }

  /** Writes a request's fields, in any order. */
  private interface RequestFields {
    void writeTo(com.google.protobuf.CodedOutputStream out) throws java.io.IOException;
  }

  /** A {@code PeerFrame} body whose request holds what {@code fields} writes, as written. */
  private static byte[] requestFrame(RequestFields fields) throws java.io.IOException {
    ByteString.Output request = ByteString.newOutput();
    com.google.protobuf.CodedOutputStream out =
        com.google.protobuf.CodedOutputStream.newInstance(request);
    fields.writeTo(out);
    out.flush();
    ByteString.Output frame = ByteString.newOutput();
    com.google.protobuf.CodedOutputStream framed =
        com.google.protobuf.CodedOutputStream.newInstance(frame);
    framed.writeBytes(PeerFrame.REQUEST_FIELD_NUMBER, request.toByteString());
    framed.flush();
    return frame.toByteString().toByteArray();
  }

  /** Decodes a body from a pooled direct buffer, as it arrives from the socket. */
  private static Object decode(PeerFrameDecoder decoder, byte[] body) {
    ByteBuf in = PooledByteBufAllocator.DEFAULT.directBuffer(body.length + 3);
    try {
      in.writeBytes(new byte[] {1, 2, 3}).writeBytes(body);
      return decoder.decode(in, 3, body.length);
    } finally {
      in.release();
    }
  }

  /** The frame with {@code field} appended inside its request (whose length fits one byte). */
  private static byte[] withRequestField(byte[] frame, byte[] field) {
    assertThat(frame[1] & 0x80).isZero();
    byte[] grown = concat(frame, field);
    grown[1] = (byte) (frame[1] + field.length);
    return grown;
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] both = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, both, a.length, b.length);
    return both;
  }

  private static int indexOf(byte[] haystack, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= haystack.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    throw new AssertionError("not found");
  }
}

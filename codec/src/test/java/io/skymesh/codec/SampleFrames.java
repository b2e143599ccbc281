package io.skymesh.codec;

import com.google.protobuf.ByteString;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.skymesh.proto.Ack;
import io.skymesh.proto.Cancel;
import io.skymesh.proto.Data;
import io.skymesh.proto.GoAway;
import io.skymesh.proto.Hello;
import io.skymesh.proto.Instance;
import io.skymesh.proto.KeepAlive;
import io.skymesh.proto.KvPut;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.OpenSession;
import io.skymesh.proto.PeerFrame;
import io.skymesh.proto.Ping;
import io.skymesh.proto.Pong;
import io.skymesh.proto.Register;
import io.skymesh.proto.Request;
import io.skymesh.proto.Response;
import io.skymesh.proto.Snapshot;
import io.skymesh.proto.Status;
import io.skymesh.proto.StatusCode;
import io.skymesh.proto.Watch;
import io.skymesh.proto.WatchEvent;
import java.util.List;
import java.util.Map;

/** One frame of every kind, for round-trip tests. */
final class SampleFrames {

  private SampleFrames() {}

  static List<PeerFrame> everyPeerFrameType() {
    return List.of(
        PeerFrame.newBuilder()
            .setHello(
                Hello.newBuilder()
                    .setProtocolVersion(1)
                    .setProcessId("p-1")
                    .setListenAddress("127.0.0.1:4000")
                    .setToken("secret")
                    .setAppId("game"))
            .build(),
        data("game.zone1.lobby/1", "game.zone1.chat/7", 1024),
        PeerFrame.newBuilder()
            .setRequest(
                Request.newBuilder()
                    .setStreamId(9)
                    .setSource("game.zone1.lobby/1")
                    .setDestination("game.zone1.chat/7")
                    .setMethod("SayHello")
                    .addAllHeaders(Headers.fromMap(Map.of("trace-id", "abc")))
                    .setPayload(ByteString.copyFromUtf8("hello"))
                    .setTimeoutMicros(5_000_000)
                    .setLeaderTerm(3))
            .build(),
        PeerFrame.newBuilder()
            .setResponse(
                Response.newBuilder()
                    .setStreamId(9)
                    .setStatus(
                        Status.newBuilder().setCode(StatusCode.UNIMPLEMENTED).setMessage("no"))
                    .addAllHeaders(Headers.fromMap(Map.of("server", "s1"))))
            .build(),
        PeerFrame.newBuilder()
            .setCancel(Cancel.newBuilder().setStreamId(9).setReason("caller gave up"))
            .build(),
        PeerFrame.newBuilder()
            .setPing(Ping.newBuilder().setSequence(1).setSentNanos(-42).setDestination("a.b.c/1"))
            .build(),
        PeerFrame.newBuilder()
            .setPong(Pong.newBuilder().setSequence(1).setSentNanos(-42).setInFlight(5))
            .build(),
        PeerFrame.newBuilder()
            .setGoAway(
                GoAway.newBuilder()
                    .setStatus(Status.newBuilder().setCode(StatusCode.OK))
                    .setLastStreamId(9))
            .build());
  }

  static List<NameClientFrame> someNameClientFrames() {
    return List.of(
        NameClientFrame.newBuilder()
            .setRequestId(1)
            .setOpenSession(OpenSession.newBuilder().setProtocolVersion(1).setAppId("game"))
            .build(),
        NameClientFrame.newBuilder()
            .setRequestId(2)
            .setRegister(
                Register.newBuilder()
                    .setInstance(
                        Instance.newBuilder()
                            .setUrl("game.zone1.lobby/1")
                            .setAddress("127.0.0.1:4000")
                            .setWeight(3)
                            .putAttributes("load", "7")))
            .build(),
        NameClientFrame.newBuilder()
            .setRequestId(3)
            .setWatch(Watch.newBuilder().setWatchId(1).setServiceName("game.zone1.lobby"))
            .build(),
        NameClientFrame.newBuilder()
            .setRequestId(4)
            .setKvPut(
                KvPut.newBuilder()
                    .setKey("config/route")
                    .setValue(ByteString.copyFromUtf8("x"))
                    .setExpectedModRevision(0))
            .build(),
        NameClientFrame.newBuilder()
            .setRequestId(5)
            .setKeepAlive(KeepAlive.getDefaultInstance())
            .build());
  }

  static List<NameServerFrame> someNameServerFrames() {
    return List.of(
        NameServerFrame.newBuilder()
            .setAck(Ack.newBuilder().setRequestId(2).setRevision(17))
            .build(),
        NameServerFrame.newBuilder()
            .setError(
                io.skymesh.proto.Error.newBuilder()
                    .setRequestId(2)
                    .setStatus(Status.newBuilder().setCode(StatusCode.ALREADY_EXISTS)))
            .build(),
        NameServerFrame.newBuilder()
            .setWatchEvent(
                WatchEvent.newBuilder()
                    .setWatchId(1)
                    .setRevision(17)
                    .setSnapshot(
                        Snapshot.newBuilder()
                            .addInstances(Instance.newBuilder().setUrl("game.zone1.lobby/1"))))
            .build());
  }

  static PeerFrame data(String source, String destination, int payloadSize) {
    byte[] payload = new byte[payloadSize];
    for (int i = 0; i < payloadSize; i++) {
      payload[i] = (byte) i;
    }
    return PeerFrame.newBuilder()
        .setData(
            Data.newBuilder()
                .setSource(source)
                .setDestination(destination)
                .addAllHeaders(Headers.fromMap(Map.of("content-type", "bytes")))
                .setPayload(ByteString.copyFrom(payload)))
        .build();
  }

  /** A Data frame whose serialized body is exactly {@code bodyLength} bytes. */
  static PeerFrame dataWithBodyLength(int bodyLength) {
    for (int payload = Math.max(0, bodyLength - 16); payload <= bodyLength; payload++) {
      PeerFrame frame =
          PeerFrame.newBuilder()
              .setData(Data.newBuilder().setPayload(ByteString.copyFrom(new byte[payload])))
              .build();
      if (frame.getSerializedSize() == bodyLength) {
        return frame;
      }
    }
    throw new IllegalArgumentException("no Data frame has a body of " + bodyLength + " bytes");
  }

  /** All frames encoded back to back into one buffer the caller releases. */
  static ByteBuf encodeAll(List<? extends com.google.protobuf.MessageLite> frames) {
    ByteBuf out = ByteBufAllocator.DEFAULT.buffer();
    for (com.google.protobuf.MessageLite frame : frames) {
      Frames.encode(frame, out, Frames.DEFAULT_MAX_FRAME_LENGTH);
    }
    return out;
  }
}

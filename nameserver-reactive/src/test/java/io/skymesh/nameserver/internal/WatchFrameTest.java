package io.skymesh.nameserver.internal;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.channel.ChannelFuture;
import io.netty.channel.embedded.EmbeddedChannel;
import io.skymesh.codec.FrameTooLargeException;
import io.skymesh.codec.Frames;
import io.skymesh.proto.Instance;
import io.skymesh.proto.InstanceRemoved;
import io.skymesh.proto.KvEntry;
import io.skymesh.proto.KvWatchEvent;
import io.skymesh.proto.Leader;
import io.skymesh.proto.NameServerFrame;
import io.skymesh.proto.Snapshot;
import io.skymesh.proto.WatchEvent;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A watch's frame written from its event's shared encoding is byte for byte the frame protobuf
 * encodes for the event with the watch's id, so clients in any language read it as before.
 */
class WatchFrameTest {

  private static final List<Long> WATCH_IDS =
      List.of(0L, 1L, 127L, 128L, 16_384L, 1L << 35, Long.MAX_VALUE, Long.MIN_VALUE, -1L);

  private static final Instance INSTANCE =
      Instance.newBuilder()
          .setUrl("game.zone1.chat/7")
          .setAddress("10.0.0.7:7000")
          .setWeight(3)
          .putAttributes("zone", "eu-west")
          .putAttributes("weight", "5")
          .setProcessId("p-7")
          .setCreateRevision(41)
          .setModRevision(300)
          .build();

  private static final List<WatchEvent> EVENTS =
      List.of(
          WatchEvent.newBuilder().setRevision(42).setInstanceAdded(INSTANCE).build(),
          WatchEvent.newBuilder().setRevision(1L << 40).setInstanceUpdated(INSTANCE).build(),
          WatchEvent.newBuilder()
              .setRevision(43)
              .setInstanceRemoved(
                  InstanceRemoved.newBuilder().setUrl(INSTANCE.getUrl()).setReason("expired"))
              .build(),
          WatchEvent.newBuilder()
              .setRevision(44)
              .setLeaderChanged(
                  Leader.newBuilder()
                      .setServiceName("game.zone1.chat")
                      .setLeaderUrl(INSTANCE.getUrl())
                      .setTerm(9))
              .build(),
          WatchEvent.newBuilder()
              .setRevision(45)
              .setSnapshot(Snapshot.newBuilder().addInstances(INSTANCE).setResync(true))
              .build(),
          // Large enough that the event's length takes three bytes.
          WatchEvent.newBuilder()
              .setRevision(46)
              .setInstanceAdded(
                  INSTANCE.toBuilder().putAttributes("blob", "x".repeat(20_000)).build())
              .build(),
          WatchEvent.getDefaultInstance());

  private static final List<KvWatchEvent> KV_EVENTS =
      List.of(
          KvWatchEvent.newBuilder()
              .setRevision(50)
              .setPut(
                  KvEntry.newBuilder()
                      .setKey("config/a")
                      .setValue(ByteString.copyFromUtf8("on"))
                      .setCreateRevision(12)
                      .setModRevision(50))
              .build(),
          KvWatchEvent.newBuilder().setRevision(51).setDeletedKey("config/a").build());

  @Test
  void aWatchFrameIsTheFrameProtobufEncodesForTheEventWithItsWatchId() {
    for (WatchEvent event : EVENTS) {
      SharedEvent shared = SharedEvent.of(event);
      for (long watchId : WATCH_IDS) {
        NameServerFrame expected =
            NameServerFrame.newBuilder()
                .setWatchEvent(event.toBuilder().setWatchId(watchId))
                .build();
        assertSameBytes(shared.frameFor(watchId), expected);
      }
    }
    for (KvWatchEvent event : KV_EVENTS) {
      SharedEvent shared = SharedEvent.of(event);
      for (long watchId : WATCH_IDS) {
        NameServerFrame expected =
            NameServerFrame.newBuilder()
                .setKvWatchEvent(event.toBuilder().setWatchId(watchId))
                .build();
        assertSameBytes(shared.frameFor(watchId), expected);
      }
    }
  }

  @Test
  void everyWatchOfOneEventSharesOneEncoding() {
    SharedEvent shared = SharedEvent.of(EVENTS.get(0));
    WatchFrame first = shared.frameFor(1);
    WatchFrame second = shared.frameFor(2);
    assertThat(second.sharedEncoding()).isSameAs(first.sharedEncoding());
    assertThat(SharedEvent.of(EVENTS.get(0)).frameFor(1).sharedEncoding())
        .isNotSameAs(first.sharedEncoding())
        .isEqualTo(first.sharedEncoding());
  }

  @Test
  void theEncoderWritesWatchFramesAndPassesEverythingElseOn() {
    EmbeddedChannel channel = new EmbeddedChannel(new WatchFrame.Encoder(1 << 20));
    try {
      WatchEvent event = EVENTS.get(0);
      channel.writeOutbound(SharedEvent.of(event).frameFor(7));
      ByteBuf written = channel.readOutbound();
      try {
        ByteBuf expected =
            Frames.encode(
                UnpooledByteBufAllocator.DEFAULT,
                NameServerFrame.newBuilder().setWatchEvent(event.toBuilder().setWatchId(7)).build(),
                1 << 20);
        try {
          assertThat(ByteBufUtil.equals(written, expected)).isTrue();
        } finally {
          expected.release();
        }
      } finally {
        written.release();
      }
      NameServerFrame answer = NameServerFrame.getDefaultInstance();
      channel.writeOutbound(answer);
      assertThat((Object) channel.readOutbound()).isSameAs(answer);
    } finally {
      channel.finishAndReleaseAll();
    }
  }

  @Test
  void aFrameOverTheMaximumFailsItsWriteAndWritesNothing() {
    EmbeddedChannel channel = new EmbeddedChannel(new WatchFrame.Encoder(100));
    try {
      ChannelFuture write = channel.writeAndFlush(SharedEvent.of(EVENTS.get(5)).frameFor(1));
      assertThat(write.cause()).isInstanceOf(FrameTooLargeException.class);
      assertThat((Object) channel.readOutbound()).isNull();
      assertThat(channel.isOpen()).isTrue();
    } finally {
      channel.finishAndReleaseAll();
    }
  }

  private static void assertSameBytes(WatchFrame frame, NameServerFrame expected) {
    ByteBuf ours = Unpooled.buffer();
    ByteBuf theirs = Unpooled.buffer();
    try {
      frame.writeTo(ours);
      Frames.encode(expected, theirs, Frames.MAX_FRAME_LENGTH_LIMIT);
      assertThat(frame.bodyLength()).isEqualTo(expected.getSerializedSize());
      assertThat(ByteBufUtil.hexDump(ours))
          .as("%s", expected)
          .isEqualTo(ByteBufUtil.hexDump(theirs));
    } finally {
      ours.release();
      theirs.release();
    }
  }
}

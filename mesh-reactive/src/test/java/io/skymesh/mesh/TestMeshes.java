package io.skymesh.mesh;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.internal.transport.PeerTransport;
import io.skymesh.mesh.internal.transport.PeerTransportConfig;
import io.skymesh.mesh.rpc.Methods;
import io.skymesh.nameserver.NameServer;
import io.skymesh.proto.PeerFrame;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.function.UnaryOperator;
import reactor.core.publisher.Mono;

/** A name server and the meshes a test starts against it, closed together. Blocking, for tests. */
public final class TestMeshes implements AutoCloseable {

  /** The deadline of every blocking step. */
  public static final Duration DEADLINE = Duration.ofSeconds(30);

  private NameServer nameServer;
  private final List<Mesh> meshes = new ArrayList<>();

  /** Starts an embedded name server on a free loopback port. */
  public static TestMeshes withNameServer() {
    TestMeshes fixture = new TestMeshes();
    fixture.nameServer = NameServer.builder().port(0).start().block(DEADLINE);
    return fixture;
  }

  /** No name server yet: the test starts one with {@link #startNameServer(int)}. */
  public static TestMeshes withoutNameServer() {
    return new TestMeshes();
  }

  /** Starts (or restarts) the name server on {@code port}. */
  public NameServer startNameServer(int port) {
    nameServer = NameServer.builder().port(port).start().block(DEADLINE);
    return nameServer;
  }

  /** The name server. */
  public NameServer nameServer() {
    return nameServer;
  }

  /** Starts a mesh of appId {@code game} with a short TTL and quick reconnection. */
  public Mesh mesh() {
    return mesh(UnaryOperator.identity());
  }

  /** Starts a mesh as {@link #mesh()} does, with more settings from {@code config}. */
  public Mesh mesh(UnaryOperator<MeshBuilder> config) {
    return adopt(
        config
            .apply(
                Mesh.builder("game")
                    .nameServer("127.0.0.1:" + nameServer.port())
                    .sessionTtl(Duration.ofSeconds(2))
                    .reconnectBackoff(Duration.ofMillis(50), Duration.ofMillis(500)))
            .start()
            .block(DEADLINE));
  }

  /** Closes {@code mesh} with the others at the end. */
  public Mesh adopt(Mesh mesh) {
    meshes.add(mesh);
    return mesh;
  }

  /** Registers {@code url} with a handler that drops everything. */
  public static MeshService register(Mesh mesh, String url) {
    return register(mesh, url, message -> Mono.empty());
  }

  /** Registers {@code url} with {@code handler}. */
  public static MeshService register(Mesh mesh, String url, MessageHandler handler) {
    return mesh.register(ServiceUrl.parse(url), handler).block(DEADLINE);
  }

  /** Registers {@code url} answering requests with {@code methods}; messages are dropped. */
  public static MeshService register(Mesh mesh, String url, Methods methods) {
    return mesh.register(
            ServiceUrl.parse(url),
            message -> Mono.empty(),
            ServiceOptions.defaults().withMethods(methods))
        .block(DEADLINE);
  }

  /**
   * A bare peer transport on loopback, outside any mesh, that adds every frame it receives to
   * {@code heard}: it sends frames a mesh would not, and hears the mesh's answers.
   */
  public static PeerTransport hearing(Queue<PeerFrame> heard) {
    return PeerTransport.create(
        PeerTransportConfig.builder().host("127.0.0.1").processId("raw").build(),
        frame -> {
          heard.add(frame.peerFrame());
          return Mono.empty();
        });
  }

  /** A payload holding a sequence number. */
  public static ByteString sequence(long i) {
    return ByteString.copyFrom(ByteBuffer.allocate(8).putLong(0, i));
  }

  /** Reads the sequence number of a payload made by {@link #sequence(long)}. */
  public static long sequenceOf(Message message) {
    return message.payload().asReadOnlyByteBuffer().getLong();
  }

  @Override
  public void close() {
    meshes.forEach(mesh -> mesh.close().block(DEADLINE));
    if (nameServer != null) {
      nameServer.closeNow(DEADLINE);
    }
  }
}

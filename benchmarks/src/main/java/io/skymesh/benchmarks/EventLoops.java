package io.skymesh.benchmarks;

import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.IoHandlerFactory;
import io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.Epoll;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollIoHandler;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.nio.NioIoHandler;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioServerSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioSocketChannel;
import io.grpc.netty.shaded.io.netty.util.concurrent.DefaultThreadFactory;
import io.skymesh.mesh.MeshBuilder;
import java.util.Locale;
import reactor.netty.resources.LoopResources;
import reactor.netty.tcp.TcpClient;
import reactor.netty.tcp.TcpServer;

/**
 * The event loops the two sides of every peer benchmark run on, chosen the same way for all three
 * protocols, from the system property {@value #PROPERTY}:
 *
 * <ul>
 *   <li>{@code own}, the default: one event-loop thread for the calling side and one for the
 *       handling side, for each protocol (Skymesh: {@code MeshBuilder.runOn}; RSocket: {@code
 *       TcpClient.runOn} and {@code TcpServer.runOn}; gRPC: {@code NettyChannelBuilder} and {@code
 *       NettyServerBuilder} event-loop groups of its shaded Netty, epoll where available). Made
 *       once per JVM, that is per fork, and never closed: daemon threads.
 *   <li>{@code shared}: each library's defaults, as before the property existed. Reactor Netty then
 *       puts Skymesh's and RSocket's connections on its shared loops, as many as the machine has
 *       cores (at least 4), and which loop a connection gets differs from fork to fork; gRPC uses
 *       its own shared groups.
 * </ul>
 *
 * <p>With shared loops the caller's and the handler's channels may land on one thread or on two,
 * and on 2 cores that alone moved a fork's rate by a third (see the benchmarks' README); with a
 * loop per side the work of each side runs on one known thread and the three protocols are laid out
 * alike.
 */
final class EventLoops {

  /** The system property that chooses, {@code own} or {@code shared}. */
  static final String PROPERTY = "skymesh.bench.loops";

  /** Whether each side runs on a loop of its own. */
  static final boolean OWN = own(System.getProperty(PROPERTY, "own"));

  /** Which side of a pair a connection's end is on. */
  enum Side {
    CALLER,
    HANDLER;

    private String prefix() {
      return "bench-" + name().toLowerCase(Locale.ROOT);
    }
  }

  private EventLoops() {}

  /** {@code mesh} on its side's loop, or unchanged with shared loops. */
  static MeshBuilder mesh(Side side, MeshBuilder mesh) {
    return OWN ? mesh.runOn(Reactor.of(side)) : mesh;
  }

  /** RSocket's client on the caller's loop, or unchanged with shared loops. */
  static TcpClient rsocketClient(TcpClient client) {
    return OWN ? client.runOn(Reactor.of(Side.CALLER)) : client;
  }

  /** RSocket's server on the handler's loop, or unchanged with shared loops. */
  static TcpServer rsocketServer(TcpServer server) {
    return OWN ? server.runOn(Reactor.of(Side.HANDLER)) : server;
  }

  /** The gRPC channel on the caller's loop, or unchanged with shared loops. */
  static NettyChannelBuilder grpcChannel(NettyChannelBuilder channel) {
    if (!OWN) {
      return channel;
    }
    return channel
        .eventLoopGroup(Grpc.CALLER)
        .channelType(Grpc.EPOLL ? EpollSocketChannel.class : NioSocketChannel.class);
  }

  /** The gRPC server on the handler's loop (accepting too), or unchanged with shared loops. */
  static NettyServerBuilder grpcServer(NettyServerBuilder server) {
    if (!OWN) {
      return server;
    }
    return server
        .bossEventLoopGroup(Grpc.HANDLER)
        .workerEventLoopGroup(Grpc.HANDLER)
        .channelType(Grpc.EPOLL ? EpollServerSocketChannel.class : NioServerSocketChannel.class);
  }

  /** A line for the trial's output. */
  static String describe() {
    return OWN
        ? "event loops: one per side (" + PROPERTY + "=own)"
        : "event loops: each library's shared ones (" + PROPERTY + "=shared)";
  }

  private static boolean own(String value) {
    return switch (value) {
      case "own" -> true;
      case "shared" -> false;
      default ->
          throw new IllegalArgumentException(
              PROPERTY + ": \"" + value + "\" (expected: own or shared)");
    };
  }

  /** Reactor Netty's loops, made on first use. */
  private static final class Reactor {
    private static final LoopResources CALLER = LoopResources.create(Side.CALLER.prefix(), 1, true);
    private static final LoopResources HANDLER =
        LoopResources.create(Side.HANDLER.prefix(), 1, true);

    static LoopResources of(Side side) {
      return side == Side.CALLER ? CALLER : HANDLER;
    }
  }

  /** gRPC's shaded Netty loops, made on first use. */
  private static final class Grpc {
    private static final boolean EPOLL = Epoll.isAvailable();
    private static final EventLoopGroup CALLER = group(Side.CALLER);
    private static final EventLoopGroup HANDLER = group(Side.HANDLER);

    private static EventLoopGroup group(Side side) {
      IoHandlerFactory handler = EPOLL ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
      return new MultiThreadIoEventLoopGroup(
          1, new DefaultThreadFactory(side.prefix() + "-grpc", true), handler);
    }
  }
}

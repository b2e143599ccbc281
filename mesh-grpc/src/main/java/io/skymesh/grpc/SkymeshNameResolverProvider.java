package io.skymesh.grpc;

import io.grpc.NameResolver;
import io.grpc.NameResolverProvider;
import io.skymesh.core.ServiceName;
import io.skymesh.grpc.internal.SkymeshNameResolver;
import io.skymesh.mesh.Mesh;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.util.Collection;
import java.util.List;
import java.util.Objects;

/**
 * Resolves gRPC targets {@code skymesh:///app.env.service} to the live instances of that service,
 * pushed by the mesh's membership stream: an instance that joins, leaves or changes its attributes
 * changes the channel's addresses at once, without DNS and without polling.
 *
 * <p>Only instances carrying the attribute {@link SkymeshAttributes#GRPC_ADDRESS} ({@code
 * host:port}, set by {@link GrpcRegistration}) are addresses; their ServiceUrl, weight, attributes
 * and process id reach the load balancer as {@link SkymeshAttributes} on each address group. Works
 * with gRPC's own {@code round_robin} and {@code pick_first}.
 *
 * <p>A resolver needs a {@link Mesh}. Give it one per channel (this provider is registered with
 * gRPC through the service loader, so the scheme is known everywhere):
 *
 * <pre>{@code
 * ManagedChannel channel =
 *     Grpc.newChannelBuilder("skymesh:///game.zone1.greeter", InsecureChannelCredentials.create())
 *         .setNameResolverArg(SkymeshNameResolverProvider.MESH, mesh)
 *         .defaultLoadBalancingPolicy("round_robin")
 *         .build();
 * }</pre>
 *
 * or register a provider bound to a mesh for the whole process, with {@code
 * NameResolverRegistry.getDefaultRegistry().register(new SkymeshNameResolverProvider(mesh))}. A
 * mesh passed as a channel argument wins over the provider's own.
 *
 * <p>Threading: views arrive on the mesh's event loop; the resolver hands the latest one to the
 * channel's offload executor (where host names, if any, are resolved), which publishes it in the
 * channel's synchronization context. Nothing blocks the mesh's event loop, and a burst of changes
 * collapses into the latest view.
 */
public final class SkymeshNameResolverProvider extends NameResolverProvider {

  /** The target scheme: {@code skymesh:///app.env.service}. */
  public static final String SCHEME = "skymesh";

  /** The channel argument carrying the {@link Mesh} a channel's resolver follows. */
  public static final NameResolver.Args.Key<Mesh> MESH =
      NameResolver.Args.Key.create("skymesh.mesh");

  private final Mesh mesh;

  /**
   * A provider without a mesh of its own, as the service loader creates it: channels must pass one
   * with {@code setNameResolverArg(MESH, mesh)}.
   */
  public SkymeshNameResolverProvider() {
    this.mesh = null;
  }

  /**
   * A provider whose resolvers follow {@code mesh}, unless a channel passes another.
   *
   * @param mesh the mesh
   */
  public SkymeshNameResolverProvider(Mesh mesh) {
    this.mesh = Objects.requireNonNull(mesh, "mesh");
  }

  /**
   * Creates the resolver of a {@code skymesh:} target.
   *
   * @return the resolver, or {@code null} for another scheme
   * @throws IllegalArgumentException if the target is not {@code skymesh:///app.env.service}, or if
   *     neither the channel nor this provider has a mesh
   */
  @Override
  public NameResolver newNameResolver(URI targetUri, NameResolver.Args args) {
    if (!SCHEME.equals(targetUri.getScheme())) {
      return null;
    }
    ServiceName serviceName = serviceName(targetUri);
    Mesh channelMesh = args.getArg(MESH);
    Mesh resolverMesh = channelMesh != null ? channelMesh : mesh;
    if (resolverMesh == null) {
      throw new IllegalArgumentException(
          "target: "
              + targetUri
              + " has no Mesh (expected: setNameResolverArg(SkymeshNameResolverProvider.MESH, mesh)"
              + " on the channel builder, or a registered new SkymeshNameResolverProvider(mesh))");
    }
    return new SkymeshNameResolver(resolverMesh, serviceName, args);
  }

  private static ServiceName serviceName(URI targetUri) {
    String authority = targetUri.getRawAuthority();
    String path = targetUri.getPath();
    if ((authority != null && !authority.isEmpty())
        || path == null
        || !path.startsWith("/")
        || targetUri.getRawQuery() != null
        || targetUri.getRawFragment() != null) {
      throw new IllegalArgumentException(
          "target: " + targetUri + " (expected: skymesh:///app.env.service)");
    }
    try {
      return ServiceName.parse(path.substring(1));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "target: " + targetUri + " (expected: skymesh:///app.env.service): " + e.getMessage(), e);
    }
  }

  @Override
  public String getDefaultScheme() {
    return SCHEME;
  }

  @Override
  protected boolean isAvailable() {
    return true;
  }

  /**
   * 4 for a provider with its own mesh, 3 for the service loader's: below DNS's 5, so that this
   * provider never becomes the default scheme of targets without one, and a provider registered
   * with a mesh wins its scheme over the service loader's.
   */
  @Override
  protected int priority() {
    return mesh != null ? 4 : 3;
  }

  @Override
  public Collection<Class<? extends SocketAddress>> getProducedSocketAddressTypes() {
    return List.of(InetSocketAddress.class);
  }
}

package io.skymesh.grpc.internal;

import io.grpc.Attributes;
import io.grpc.EquivalentAddressGroup;
import io.grpc.NameResolver;
import io.grpc.Status;
import io.grpc.StatusOr;
import io.grpc.SynchronizationContext;
import io.skymesh.core.ServiceName;
import io.skymesh.grpc.SkymeshAttributes;
import io.skymesh.mesh.Instance;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.ServiceView;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;
import reactor.core.Disposables;

/**
 * The resolver of one {@code skymesh:///service} target: follows the service's router views and
 * publishes each as the channel's full address list.
 *
 * <p>gRPC calls {@link #start}, {@link #refresh} and {@link #shutdown} serially in the channel's
 * synchronization context. Views arrive on the mesh's event loop; {@link #onView} only records the
 * latest and schedules one publication on the offload executor, which converts it (resolving host
 * names there, never on an event loop) and delivers it in the synchronization context. Each view
 * has a sequence number, so a slower, older publication never overwrites a newer one.
 */
public final class SkymeshNameResolver extends NameResolver {

  private static final Logger log = LoggerFactory.getLogger(SkymeshNameResolver.class);

  private final Mesh mesh;
  private final ServiceName serviceName;
  private final SynchronizationContext syncContext;
  private final Executor offload;
  private final AtomicReference<Numbered> latest = new AtomicReference<>();
  private final AtomicLong sequence = new AtomicLong();
  private final AtomicBoolean scheduled = new AtomicBoolean();
  private final Disposable.Composite subscriptions = Disposables.composite();

  // Touched only in the synchronization context.
  private Listener2 listener;
  private long delivered;
  private boolean shutdown;

  /**
   * Creates the resolver.
   *
   * @param mesh the mesh whose router it follows
   * @param serviceName the target's service
   * @param args the channel's arguments
   */
  public SkymeshNameResolver(Mesh mesh, ServiceName serviceName, Args args) {
    this.mesh = Objects.requireNonNull(mesh, "mesh");
    this.serviceName = Objects.requireNonNull(serviceName, "serviceName");
    this.syncContext = args.getSynchronizationContext();
    Executor executor = args.getOffloadExecutor();
    this.offload = executor != null ? executor : Runnable::run;
  }

  @Override
  public String getServiceAuthority() {
    return serviceName.toString();
  }

  @Override
  public void start(Listener2 listener) {
    this.listener = Objects.requireNonNull(listener, "listener");
    var router = mesh.router(serviceName);
    subscriptions.add(
        router.views().subscribe(this::onView, e -> onFailure("the membership stream failed", e)));
    subscriptions.add(router.firstView().subscribe(view -> {}, e -> onFailure("no first view", e)));
  }

  /** Nothing to do: every membership change is pushed as it happens. */
  @Override
  public void refresh() {}

  @Override
  public void shutdown() {
    shutdown = true;
    subscriptions.dispose();
  }

  private void onView(ServiceView view) {
    latest.set(new Numbered(sequence.incrementAndGet(), view));
    if (scheduled.compareAndSet(false, true)) {
      try {
        offload.execute(this::publish);
      } catch (RejectedExecutionException e) {
        // The channel is shutting down and has released its offload executor.
        scheduled.set(false);
      }
    }
  }

  private void publish() {
    scheduled.set(false);
    Numbered numbered = latest.get();
    StatusOr<List<EquivalentAddressGroup>> addresses = addresses(numbered.view());
    syncContext.execute(() -> deliver(numbered.number(), addresses));
  }

  private void deliver(long number, StatusOr<List<EquivalentAddressGroup>> addresses) {
    if (shutdown || number <= delivered) {
      return;
    }
    delivered = number;
    Status status =
        listener.onResult2(ResolutionResult.newBuilder().setAddressesOrError(addresses).build());
    if (!status.isOk()) {
      log.debug("The channel did not accept the addresses of {}: {}", serviceName, status);
    }
  }

  private void onFailure(String what, Throwable error) {
    syncContext.execute(
        () -> {
          if (!shutdown) {
            listener.onError(
                Status.UNAVAILABLE
                    .withDescription("skymesh: " + what + " for " + serviceName)
                    .withCause(error));
          }
        });
  }

  private StatusOr<List<EquivalentAddressGroup>> addresses(ServiceView view) {
    List<EquivalentAddressGroup> groups = new ArrayList<>(view.size());
    for (Instance instance : view.instances()) {
      String address = instance.attributes().get(SkymeshAttributes.GRPC_ADDRESS);
      if (address == null) {
        continue;
      }
      InetSocketAddress socketAddress = socketAddress(address);
      if (socketAddress == null || socketAddress.isUnresolved()) {
        log.warn(
            "Skipping {}: its {} '{}' is not a resolvable host:port",
            instance.url(),
            SkymeshAttributes.GRPC_ADDRESS,
            address);
        continue;
      }
      Attributes attributes =
          Attributes.newBuilder()
              .set(SkymeshAttributes.SERVICE_URL, instance.url())
              .set(SkymeshAttributes.INSTANCE_ATTRIBUTES, instance.attributes())
              .set(SkymeshAttributes.WEIGHT, instance.weight())
              .set(SkymeshAttributes.PROCESS_ID, instance.processId())
              .build();
      groups.add(new EquivalentAddressGroup(socketAddress, attributes));
    }
    if (groups.isEmpty()) {
      return StatusOr.fromStatus(
          Status.UNAVAILABLE.withDescription(
              "skymesh: no live instance of "
                  + serviceName
                  + " has a "
                  + SkymeshAttributes.GRPC_ADDRESS
                  + " attribute"));
    }
    return StatusOr.fromValue(List.copyOf(groups));
  }

  /** Parses {@code host:port} or {@code [v6]:port}; a host name is resolved here, off the loop. */
  static InetSocketAddress socketAddress(String hostPort) {
    int colon = hostPort.lastIndexOf(':');
    if (colon <= 0 || colon == hostPort.length() - 1) {
      return null;
    }
    String host = hostPort.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    int port;
    try {
      port = Integer.parseInt(hostPort.substring(colon + 1));
    } catch (NumberFormatException e) {
      return null;
    }
    if (port < 1 || port > 65535 || host.isEmpty()) {
      return null;
    }
    return new InetSocketAddress(host, port);
  }

  private record Numbered(long number, ServiceView view) {}
}

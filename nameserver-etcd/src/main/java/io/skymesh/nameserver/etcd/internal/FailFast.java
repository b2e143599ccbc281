package io.skymesh.nameserver.etcd.internal;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.MethodDescriptor;

/**
 * Lets a jetcd client's calls, which wait for a connection to etcd (gRPC's wait-for-ready), fail at
 * once with the connection's last error while switched on: how opening a store learns why etcd did
 * not answer (a refused TLS handshake, say) instead of only that it did not.
 */
public final class FailFast implements ClientInterceptor {

  private volatile boolean on;

  /** Creates the interceptor, switched off. */
  public FailFast() {}

  /**
   * Switches failing fast on or off for calls started from now on.
   *
   * @param on true: calls fail at once while etcd is not reachable
   */
  public void set(boolean on) {
    this.on = on;
  }

  @Override
  public <Q, R> ClientCall<Q, R> interceptCall(
      MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
    return next.newCall(method, on ? options.withoutWaitForReady() : options);
  }
}

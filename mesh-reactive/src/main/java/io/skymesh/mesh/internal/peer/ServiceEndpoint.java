package io.skymesh.mesh.internal.peer;

import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.rpc.Methods;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/** The request side of one registered service: its methods and its cap on running handlers. */
public final class ServiceEndpoint {

  private final ServiceUrl url;
  private final Map<String, Methods.Definition> methods;
  private final Map<String, Methods.StreamDefinition> streams;
  private final Map<String, Methods.ChannelDefinition> channels;
  private final int maxConcurrent;
  private final AtomicInteger running = new AtomicInteger();

  /**
   * Creates an endpoint.
   *
   * @param url the service
   * @param methods its methods
   * @param maxConcurrent the most handlers running at once
   */
  public ServiceEndpoint(ServiceUrl url, Methods methods, int maxConcurrent) {
    this.url = url;
    this.methods = methods.definitions();
    this.streams = methods.streams();
    this.channels = methods.channels();
    this.maxConcurrent = maxConcurrent;
  }

  /** The service. */
  public ServiceUrl url() {
    return url;
  }

  /** The method of that name, or {@code null}. */
  public Methods.Definition method(String name) {
    return methods.get(name);
  }

  /** The stream method of that name, or {@code null}. */
  public Methods.StreamDefinition stream(String name) {
    return streams.get(name);
  }

  /** The channel method of that name, or {@code null}. */
  public Methods.ChannelDefinition channel(String name) {
    return channels.get(name);
  }

  /** Whether a method of any kind has that name. */
  public boolean hasMethod(String name) {
    return methods.containsKey(name) || streams.containsKey(name) || channels.containsKey(name);
  }

  /** The most handlers running at once. */
  public int maxConcurrent() {
    return maxConcurrent;
  }

  /** Handlers running now; an instant reading. */
  public int running() {
    return running.get();
  }

  /** Takes a handler slot; false if all are taken. */
  public boolean tryAcquire() {
    for (; ; ) {
      int current = running.get();
      if (current >= maxConcurrent) {
        return false;
      }
      if (running.compareAndSet(current, current + 1)) {
        return true;
      }
    }
  }

  /** Gives back a slot {@link #tryAcquire()} took. */
  public void release() {
    running.decrementAndGet();
  }
}

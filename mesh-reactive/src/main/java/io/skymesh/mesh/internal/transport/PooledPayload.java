package io.skymesh.mesh.internal.transport;

import io.netty.util.ResourceLeakTracker;
import org.jspecify.annotations.Nullable;

/**
 * A heap array leased from an event loop's {@link PayloadPool} to hold one received payload (pooled
 * payloads): the payload is a view of its first bytes until whoever ends the request, response or
 * message {@link #release releases} it, once. Released on the thread that leased it, the array goes
 * back to that thread's pool; released on any other thread, it is left to the garbage collector.
 * Netty's leak detector tracks leases like buffers: one never released is reported.
 */
public final class PooledPayload {

  private final byte[] array;
  private final PayloadPool pool;
  private boolean leased;
  private @Nullable ResourceLeakTracker<PooledPayload> leak;

  PooledPayload(int capacity, PayloadPool pool) {
    this.array = new byte[capacity];
    this.pool = pool;
  }

  byte[] array() {
    return array;
  }

  int capacity() {
    return array.length;
  }

  void lease(@Nullable ResourceLeakTracker<PooledPayload> leak) {
    leased = true;
    this.leak = leak;
  }

  /**
   * Ends the lease: the payload's bytes may be reused from now on.
   *
   * @throws IllegalStateException if it was released already
   */
  public void release() {
    if (!leased) {
      throw new IllegalStateException("a pooled payload released twice");
    }
    leased = false;
    ResourceLeakTracker<PooledPayload> tracked = leak;
    if (tracked != null) {
      leak = null;
      tracked.close(this);
    }
    pool.giveBack(this);
  }
}

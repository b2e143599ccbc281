package io.skymesh.mesh.internal.transport;

import io.netty.util.ResourceLeakDetector;
import io.netty.util.ResourceLeakDetectorFactory;
import io.netty.util.concurrent.FastThreadLocal;
import org.jspecify.annotations.Nullable;

/**
 * The heap arrays one thread (an event loop) keeps for received payloads, by size class, powers of
 * two from {@value #SMALLEST} to {@value #LARGEST} bytes.
 *
 * <p>Not Netty's pooled allocator: a pooled buffer's allocation and release update its chunk's
 * pinned-memory counter (a {@code LongAdder}) and its reference count (an atomic), which cost as
 * much, in the benchmarks' profiles, as the garbage the pool saved. Here a lease and a release on
 * the same thread are an array push and pop, and a payload released on another thread (a handler
 * that ends elsewhere) simply becomes garbage, as an unpooled payload would: no lock, no atomic, no
 * hand-off between threads. A thread keeps at most {@value #KEPT_BYTES_PER_CLASS} bytes of free
 * arrays per size class, but never fewer than {@value #KEPT_ARRAYS_AT_LEAST} arrays, and at most
 * {@value #KEPT_BYTES_AT_MOST} bytes in all; arrays released past that are left to the collector
 * too. It never keeps more arrays of a size than it had leased at once.
 *
 * <p>Leases are tracked by Netty's leak detector: every one at its {@code paranoid} level (the
 * tests'), one in {@value #LEAK_SAMPLING_INTERVAL} at the sampling levels, where Netty samples one
 * buffer in 128. A sampled lease records a stack trace, and leases come one per message or call
 * where buffers come one per read: at Netty's rate the samples cost 2 to 6% of a 1 KiB request's or
 * message's CPU time (benchmarks/README.md, "Pooled message payloads").
 */
final class PayloadPool {

  /** The smallest array leased; shorter payloads are rounded up to it. */
  static final int SMALLEST = 256;

  /** The longest payload held in a pooled array; longer ones get an array of their own. */
  static final int LARGEST = 64 * 1024;

  /**
   * Bytes of free arrays a thread keeps per size class: enough for the leases a loop holds at once
   * with hundreds of 16 KiB requests in flight (docs/decisions.md, "Pooled payloads live in arrays
   * kept per event loop").
   */
  static final int KEPT_BYTES_PER_CLASS = 1024 * 1024;

  /**
   * Free arrays a thread keeps per size class at least, whatever their bytes: with 256 requests of
   * 64 KiB in flight a loop holds up to 256 leases at once, and every array it kept fewer than its
   * peak was allocated again at the next peak (docs/decisions.md).
   */
  static final int KEPT_ARRAYS_AT_LEAST = 256;

  /** Bytes of free arrays a thread keeps in all, over every size class. */
  static final int KEPT_BYTES_AT_MOST = 16 * 1024 * 1024;

  private static final int SMALLEST_SHIFT = Integer.numberOfTrailingZeros(SMALLEST);
  private static final int CLASSES = Integer.numberOfTrailingZeros(LARGEST) - SMALLEST_SHIFT + 1;

  /** One lease in this many is tracked, unless Netty's leak detector is at {@code paranoid}. */
  static final int LEAK_SAMPLING_INTERVAL = 8192;

  private static final ResourceLeakDetector<PooledPayload> LEAKS =
      ResourceLeakDetectorFactory.instance()
          .newResourceLeakDetector(PooledPayload.class, LEAK_SAMPLING_INTERVAL);

  private static final FastThreadLocal<PayloadPool> POOLS =
      new FastThreadLocal<>() {
        @Override
        protected PayloadPool initialValue() {
          return new PayloadPool(Thread.currentThread());
        }
      };

  private final Thread owner;
  private final PooledPayload[][] free = new PooledPayload[CLASSES][];
  private final int[] kept = new int[CLASSES];
  private long keptBytes;
  private long created;

  private PayloadPool(Thread owner) {
    this.owner = owner;
  }

  /**
   * Leases an array for a payload of {@code length} bytes from the calling thread's pool.
   *
   * @param length the payload's length
   * @return an array of at least {@code length} bytes, or null if {@code length} is past {@value
   *     #LARGEST}
   */
  static @Nullable PooledPayload lease(int length) {
    return length > LARGEST ? null : POOLS.get().take(length);
  }

  /** The calling thread's pool. */
  static PayloadPool current() {
    return POOLS.get();
  }

  private PooledPayload take(int length) {
    int sizeClass = sizeClass(length);
    int count = kept[sizeClass];
    PooledPayload payload;
    if (count > 0) {
      PooledPayload[] stack = free[sizeClass];
      payload = stack[--count];
      stack[count] = null;
      kept[sizeClass] = count;
      keptBytes -= payload.capacity();
    } else {
      payload = new PooledPayload(SMALLEST << sizeClass, this);
      created++;
    }
    payload.lease(LEAKS.track(payload));
    return payload;
  }

  /** Keeps a released array if it was released on this pool's thread and there is room. */
  void giveBack(PooledPayload payload) {
    int capacity = payload.capacity();
    if (Thread.currentThread() != owner || keptBytes + capacity > KEPT_BYTES_AT_MOST) {
      return;
    }
    int sizeClass = sizeClass(capacity);
    PooledPayload[] stack = free[sizeClass];
    if (stack == null) {
      stack = free[sizeClass] = new PooledPayload[keepable(capacity)];
    }
    int count = kept[sizeClass];
    if (count < stack.length) {
      stack[count] = payload;
      kept[sizeClass] = count + 1;
      keptBytes += capacity;
    }
  }

  /** How many arrays this pool has created; read on its own thread (tests). */
  long created() {
    return created;
  }

  /** How many bytes of free arrays this pool keeps; read on its own thread (tests). */
  long keptBytes() {
    return keptBytes;
  }

  /** How many free arrays this pool keeps; read on its own thread (tests). */
  int kept() {
    int sum = 0;
    for (int count : kept) {
      sum += count;
    }
    return sum;
  }

  /** How many free arrays of {@code capacity} bytes a thread keeps. */
  static int keepable(int capacity) {
    return Math.max(KEPT_BYTES_PER_CLASS / capacity, KEPT_ARRAYS_AT_LEAST);
  }

  private static int sizeClass(int length) {
    return length <= SMALLEST ? 0 : 32 - Integer.numberOfLeadingZeros(length - 1) - SMALLEST_SHIFT;
  }
}

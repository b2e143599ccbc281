package io.skymesh.mesh.routing;

import io.skymesh.core.ServiceName;
import io.skymesh.core.ServiceUrl;
import io.skymesh.core.exceptions.MeshTimeoutException;
import io.skymesh.mesh.Instance;
import io.skymesh.mesh.ServiceView;
import java.util.HashSet;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import reactor.core.publisher.Mono;

/**
 * The thread-safe, lock-free {@link PeerStats} that callers update: requests started and finished,
 * round-trip samples, unanswered pings. Every {@code NameRouter} has one ({@code
 * router.peerStats()}) that its {@code select} and {@code route} consult.
 *
 * <pre>{@code
 * PeerStatsRecorder stats = router.peerStats();
 * router.select(RoutingPolicy.leastOutstanding())
 *     .flatMap(instance -> stats.record(instance.url(), callOnce(instance)));
 * }</pre>
 *
 * <p>Latency is an exponentially weighted moving average: the first sample sets it, each later
 * sample moves it by {@code smoothing × (sample − average)}. An unanswered ping or a timed-out
 * request counts as a slow sample: the time waited, and at least twice the current average, so it
 * always makes the peer look slower.
 */
public final class PeerStatsRecorder implements PeerStats {

  /** The default EWMA smoothing factor: about the mean of the last five samples. */
  public static final double DEFAULT_SMOOTHING = 1.0 / 3;

  private final double smoothing;
  private final ConcurrentHashMap<ServiceUrl, Peer> peers = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<ServiceName, Totals> totals = new ConcurrentHashMap<>();

  private PeerStatsRecorder(double smoothing) {
    this.smoothing = smoothing;
  }

  /**
   * A recorder with the {@link #DEFAULT_SMOOTHING default smoothing}.
   *
   * @return an empty recorder
   */
  public static PeerStatsRecorder create() {
    return new PeerStatsRecorder(DEFAULT_SMOOTHING);
  }

  /**
   * A recorder whose latency averages move by {@code smoothing} of each sample's difference.
   *
   * @param smoothing the EWMA factor, in {@code (0, 1]}; 1 keeps only the last sample
   * @return an empty recorder
   * @throws IllegalArgumentException if {@code smoothing} is out of range
   */
  public static PeerStatsRecorder create(double smoothing) {
    if (!(smoothing > 0 && smoothing <= 1)) {
      throw new IllegalArgumentException("smoothing: " + smoothing + " (expected: > 0 and <= 1)");
    }
    return new PeerStatsRecorder(smoothing);
  }

  /**
   * The statistics of one instance, created on first use. Keep the handle between a request's start
   * and finish: it stays valid (and harmless) even after the instance is forgotten.
   *
   * @param url the instance
   * @return its live statistics
   */
  public Peer peer(ServiceUrl url) {
    Peer peer = peers.get(url);
    return peer != null ? peer : peers.computeIfAbsent(url, this::newPeer);
  }

  private Peer newPeer(ServiceUrl url) {
    return new Peer(
        url, smoothing, totals.computeIfAbsent(url.serviceName(), name -> new Totals()));
  }

  /**
   * Counts {@code call} in flight to {@code url} from its subscription until it terminates or is
   * cancelled, exactly once. A value or completion records the elapsed time as a round trip; a
   * timeout ({@link MeshTimeoutException} or {@link TimeoutException}) records it as a slow sample;
   * any other error and cancellation record no latency. Lazy: each subscription is one call.
   *
   * @param url the instance the call goes to
   * @param call the call
   * @param <T> the reply's type
   * @return {@code call}, recorded
   */
  public <T> Mono<T> record(ServiceUrl url, Mono<T> call) {
    Objects.requireNonNull(url, "url");
    Objects.requireNonNull(call, "call");
    return Mono.defer(
        () -> {
          Peer peer = peer(url);
          AtomicBoolean done = new AtomicBoolean();
          peer.started();
          long start = System.nanoTime();
          return call.doOnSuccess(
                  value -> {
                    if (done.compareAndSet(false, true)) {
                      peer.finished(System.nanoTime() - start);
                    }
                  })
              .doOnError(
                  error -> {
                    if (done.compareAndSet(false, true)) {
                      peer.finished();
                      if (error instanceof MeshTimeoutException
                          || error instanceof TimeoutException) {
                        peer.unanswered(System.nanoTime() - start);
                      }
                    }
                  })
              .doOnCancel(
                  () -> {
                    if (done.compareAndSet(false, true)) {
                      peer.finished();
                    }
                  });
        });
  }

  /**
   * Forgets one instance: a later {@link #peer} starts it afresh. Constant-time; routers call it
   * for each member that leaves.
   *
   * @param url the instance
   */
  public void forget(ServiceUrl url) {
    Objects.requireNonNull(url, "url");
    Peer peer = peers.remove(url);
    if (peer != null) {
      peer.detach();
    }
  }

  /**
   * Forgets the instances of {@code view}'s service that are not in {@code view}; other services'
   * instances are kept. A scan of every tracked instance: {@link #forget} is the per-departure way.
   *
   * @param view the live instances
   */
  public void retain(ServiceView view) {
    Set<ServiceUrl> live = new HashSet<>();
    for (Instance instance : view.instances()) {
      live.add(instance.url());
    }
    peers
        .values()
        .removeIf(
            peer -> {
              boolean gone = view.serviceName().contains(peer.url) && !live.contains(peer.url);
              if (gone) {
                peer.detach();
              }
              return gone;
            });
  }

  /**
   * The running total of requests in flight to the tracked instances of {@code view}'s service
   * (which routers keep equal to the view): constant-time. Approximate only while an instance is
   * being forgotten during a request's finish.
   */
  @Override
  public long totalInFlight(ServiceView view) {
    Totals sums = totals.get(view.serviceName());
    return sums == null ? 0 : Math.max(0, sums.inFlight.sum());
  }

  /**
   * The mean latency of the measured, tracked instances of {@code view}'s service, from running
   * sums: constant-time.
   */
  @Override
  public double meanLatencyNanos(ServiceView view) {
    Totals sums = totals.get(view.serviceName());
    if (sums == null) {
      return Double.NaN;
    }
    long measured = sums.measured.sum();
    return measured <= 0 ? Double.NaN : Math.max(0, sums.latencyNanos.sum()) / (double) measured;
  }

  /** Running sums over one service's tracked instances, kept by their {@link Peer}s. */
  private static final class Totals {
    final LongAdder inFlight = new LongAdder();
    final LongAdder latencyNanos = new LongAdder();
    final LongAdder measured = new LongAdder();
  }

  @Override
  public int inFlight(ServiceUrl url) {
    Peer peer = peers.get(url);
    return peer == null ? 0 : peer.inFlight();
  }

  @Override
  public double latencyNanos(ServiceUrl url) {
    Peer peer = peers.get(url);
    return peer == null ? Double.NaN : peer.latencyNanos();
  }

  @Override
  public String toString() {
    return "PeerStatsRecorder" + peers.values();
  }

  /** One instance's statistics: an in-flight counter and a latency EWMA, both lock-free. */
  public static final class Peer {

    private final ServiceUrl url;
    private final double smoothing;
    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicLong ewmaBits = new AtomicLong(Double.doubleToRawLongBits(Double.NaN));
    private final Totals totals;
    private volatile boolean detached;

    Peer(ServiceUrl url, double smoothing, Totals totals) {
      this.url = url;
      this.smoothing = smoothing;
      this.totals = totals;
    }

    /** Takes this instance out of its service's running sums: it left the view. */
    void detach() {
      detached = true;
      totals.inFlight.add(-inFlight.get());
      double latency = latencyNanos();
      if (!Double.isNaN(latency)) {
        totals.measured.decrement();
        totals.latencyNanos.add(-Math.round(latency));
      }
    }

    /** The instance these statistics describe. */
    public ServiceUrl url() {
      return url;
    }

    /** A request to this instance has started. */
    public void started() {
      inFlight.incrementAndGet();
      if (!detached) {
        totals.inFlight.increment();
      }
    }

    /** A request has finished without a latency sample (failed, cancelled). Never goes below 0. */
    public void finished() {
      if (inFlight.getAndUpdate(Peer::decrementToZero) > 0 && !detached) {
        totals.inFlight.decrement();
      }
    }

    /**
     * A request has finished after {@code roundTripNanos}, which is recorded as a sample.
     *
     * @param roundTripNanos how long it took, in nanoseconds, at least 0
     */
    public void finished(long roundTripNanos) {
      finished();
      sample(roundTripNanos);
    }

    /**
     * Records one measured round trip (a ping's pong, a request's reply).
     *
     * @param roundTripNanos the round trip, in nanoseconds, at least 0
     * @throws IllegalArgumentException if negative
     */
    public void sample(long roundTripNanos) {
      if (roundTripNanos < 0) {
        throw new IllegalArgumentException(
            "roundTripNanos: " + roundTripNanos + " (expected: >= 0)");
      }
      update(roundTripNanos, false);
    }

    /**
     * Records a ping (or request) that got no answer within {@code waitedNanos}: a slow sample of
     * at least the time waited and at least twice the current average.
     *
     * @param waitedNanos how long it went unanswered, in nanoseconds, at least 0
     * @throws IllegalArgumentException if negative
     */
    public void unanswered(long waitedNanos) {
      if (waitedNanos < 0) {
        throw new IllegalArgumentException("waitedNanos: " + waitedNanos + " (expected: >= 0)");
      }
      update(waitedNanos, true);
    }

    private void update(double sample, boolean slow) {
      for (; ; ) {
        long bits = ewmaBits.get();
        double old = Double.longBitsToDouble(bits);
        double value = slow && !Double.isNaN(old) ? Math.max(sample, 2 * old) : sample;
        double next = Double.isNaN(old) ? value : old + smoothing * (value - old);
        if (ewmaBits.compareAndSet(bits, Double.doubleToRawLongBits(next))) {
          if (!detached) {
            if (Double.isNaN(old)) {
              totals.measured.increment();
              totals.latencyNanos.add(Math.round(next));
            } else {
              totals.latencyNanos.add(Math.round(next) - Math.round(old));
            }
          }
          return;
        }
      }
    }

    /** Requests in flight now. */
    public int inFlight() {
      return inFlight.get();
    }

    /** The latency EWMA in nanoseconds, {@link Double#NaN} before the first sample. */
    public double latencyNanos() {
      return Double.longBitsToDouble(ewmaBits.get());
    }

    private static int decrementToZero(int count) {
      return count > 0 ? count - 1 : 0;
    }

    @Override
    public String toString() {
      return url + "{inFlight=" + inFlight() + ", latencyNanos=" + latencyNanos() + "}";
    }
  }
}

package io.skymesh.testkit;

import io.netty.util.ResourceLeakDetector;
import io.netty.util.ResourceLeakTracker;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * A Netty {@link ResourceLeakDetector} that records every leak it reports, so that {@link
 * LeakCheck} can fail the test that leaked.
 *
 * <p>Installed with the system properties {@code
 * -Dio.netty.customResourceLeakDetector=io.skymesh.testkit.RecordingLeakDetector} and {@code
 * -Dio.netty.leakDetection.level=paranoid}, which the parent pom's surefire configuration sets.
 *
 * @param <T> the type of resource tracked
 */
public final class RecordingLeakDetector<T> extends ResourceLeakDetector<T> {

  private static final Queue<String> LEAKS = new ConcurrentLinkedQueue<>();
  private static final Queue<RecordingLeakDetector<?>> DETECTORS = new ConcurrentLinkedQueue<>();
  private static volatile boolean installed;

  /**
   * Called by Netty's {@code ResourceLeakDetectorFactory} through reflection.
   *
   * @param resourceType the type of resource tracked
   * @param samplingInterval how often to sample at the simple and advanced levels
   */
  public RecordingLeakDetector(Class<?> resourceType, int samplingInterval) {
    super(resourceType, samplingInterval);
    DETECTORS.add(this);
    installed = true;
  }

  /**
   * Also called by Netty through reflection: it looks for this constructor first and logs an error
   * when it is missing. The limit on active resources is not used.
   *
   * @param resourceType the type of resource tracked
   * @param samplingInterval how often to sample at the simple and advanced levels
   * @param maxActive ignored
   */
  public RecordingLeakDetector(Class<?> resourceType, int samplingInterval, long maxActive) {
    this(resourceType, samplingInterval);
  }

  /** Whether Netty created at least one detector of this class in this JVM. */
  static boolean installed() {
    return installed;
  }

  /**
   * Makes every detector created so far report the leaks the collector has found for it: Netty's
   * detector looks at its references only when it tracks a new resource, so each tracks (and at
   * once closes) a probe. Buffers and every other resource tracked this way (the mesh's pooled
   * payload arrays) are covered alike.
   */
  @SuppressWarnings({"unchecked", "rawtypes"})
  static void poll() {
    Object probe = new Object();
    for (RecordingLeakDetector detector : DETECTORS) {
      ResourceLeakTracker tracker = detector.trackForcibly(probe);
      tracker.close(probe);
    }
  }

  /** Removes and returns the leaks recorded so far. */
  static List<String> drain() {
    List<String> drained = new ArrayList<>();
    for (String leak; (leak = LEAKS.poll()) != null; ) {
      drained.add(leak);
    }
    return drained;
  }

  @Override
  protected boolean needReport() {
    // Record even when the logger is off: the test must fail whatever the logging setup.
    return true;
  }

  @Override
  protected void reportTracedLeak(String resourceType, String records) {
    LEAKS.add(
        "LEAK: "
            + resourceType
            + ".release() was not called before it was garbage-collected."
            + records);
    super.reportTracedLeak(resourceType, records);
  }

  @Override
  protected void reportUntracedLeak(String resourceType) {
    LEAKS.add(
        "LEAK: " + resourceType + ".release() was not called before it was garbage-collected.");
    super.reportUntracedLeak(resourceType);
  }
}

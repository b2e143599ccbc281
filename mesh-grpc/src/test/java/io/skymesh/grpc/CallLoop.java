package io.skymesh.grpc;

import io.grpc.Channel;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/** Calls a greeter channel continuously on a thread of its own, counting who answered. */
final class CallLoop implements AutoCloseable {

  private final Channel channel;
  private final Map<String, AtomicInteger> counts = new ConcurrentHashMap<>();
  private final List<Throwable> failures = new CopyOnWriteArrayList<>();
  private final ConcurrentLinkedQueue<String> recent = new ConcurrentLinkedQueue<>();
  private final AtomicInteger total = new AtomicInteger();
  private final Thread thread;
  private volatile boolean running = true;

  CallLoop(Channel channel) {
    this.channel = channel;
    this.thread = new Thread(this::run, "call-loop");
    thread.setDaemon(true);
    thread.start();
  }

  private void run() {
    while (running) {
      try {
        String server = TestGreeter.call(channel);
        counts.computeIfAbsent(server, s -> new AtomicInteger()).incrementAndGet();
        // This thread is the only writer: making room before adding keeps every snapshot at 50 or
        // fewer (adding first let a reader see 51 in between).
        if (recent.size() >= 50) {
          recent.poll();
        }
        recent.add(server);
        total.incrementAndGet();
      } catch (RuntimeException e) {
        failures.add(e);
      }
    }
  }

  int count(String server) {
    AtomicInteger count = counts.get(server);
    return count == null ? 0 : count.get();
  }

  int total() {
    return total.get();
  }

  /** Who answered the last (at most 50) calls, oldest first. */
  List<String> recent() {
    return List.copyOf(recent);
  }

  /** Who answered the last {@code n} calls, or fewer if fewer were made. */
  List<String> last(int n) {
    List<String> all = recent();
    return all.subList(Math.max(0, all.size() - n), all.size());
  }

  List<Throwable> failures() {
    return failures;
  }

  @Override
  public void close() throws InterruptedException {
    running = false;
    thread.join(10_000);
  }
}

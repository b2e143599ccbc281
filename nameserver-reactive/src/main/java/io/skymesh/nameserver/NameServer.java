package io.skymesh.nameserver;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Objects;
import reactor.core.publisher.Mono;

/**
 * A running name server: it listens on one TCP address, holds a session per client connection,
 * keeps the registry of live instances and streams their changes to watchers, as described in the
 * name-server protocol ({@code skymesh/v1/nameserver.proto}).
 *
 * <p>Create one with {@link #builder()}; nothing happens until the {@code Mono} returned by {@link
 * NameServerBuilder#start()} is subscribed.
 *
 * <pre>{@code
 * NameServer server = NameServer.builder().port(9099).start().block(Duration.ofSeconds(5));
 * // ... clients connect to server.address()
 * server.close().block(Duration.ofSeconds(5));
 * }</pre>
 *
 * <p>Threading: every mutation of the registry (opening a session, registering, deregistering,
 * setting attributes, keep-alive bookkeeping, ending a session, starting a watch) runs on one
 * writer thread the server owns, in the order the requests arrived; no lock is taken on that path.
 * The methods of this class may be called from any thread and never block, except {@link
 * #closeNow(Duration)}.
 */
public abstract class NameServer {

  /** For the implementation only. */
  protected NameServer() {}

  /**
   * Starts configuring a name server. Defaults: {@code 127.0.0.1}, port 0 (any free port), a
   * session TTL of 10 seconds, 1024 queued frames per session, 10,000 events of history.
   *
   * @return a new builder
   */
  public static NameServerBuilder builder() {
    return new NameServerBuilder();
  }

  /**
   * The address the server is bound to; with port 0 configured, the port actually chosen.
   *
   * @return the bound address
   */
  public abstract InetSocketAddress address();

  /**
   * The port the server is bound to.
   *
   * @return the bound port
   */
  public int port() {
    return address().getPort();
  }

  /**
   * The current revision: the revision of the latest change, or the initial revision before any
   * (see {@link NameServerBuilder#initialRevision(long)}). Updated as soon as a change is applied,
   * before its answer is sent.
   *
   * @return the current revision
   */
  public abstract long revision();

  /**
   * The server's counters as of the writer's latest batch of work. Never waits for the writer.
   *
   * @return a snapshot of the counters
   */
  public abstract NameServerMetrics metrics();

  /**
   * What the server has done since it started, counted as it happens: requests by kind, errors by
   * status, watch events sent.
   *
   * @return the live counters
   */
  public abstract NameServerCounters counters();

  /**
   * Whether this node can serve: completes when it can, fails with {@code UNAVAILABLE} (a {@code
   * SkymeshException}) naming the reason when it is closing or its store is unreachable. The same
   * check answers the protocol's {@code HealthCheck} request and {@code serve --metrics-port}'s
   * {@code /health}.
   *
   * @return completes when the node can serve
   */
  public abstract Mono<Void> checkHealth();

  /**
   * Closes the server: stops listening, tells every session {@code Error(UNAVAILABLE)} with request
   * id 0, closes every connection (forcibly after a grace of one second for a client that does not
   * read), then stops the writer. Instances are not announced as removed: every watcher is
   * disconnected too.
   *
   * <p>Idempotent and shared: the first subscription starts the close, every subscription completes
   * when it is done. Never fails: a problem while closing is logged.
   *
   * @return a {@code Mono} that completes when the listener and every connection are closed
   */
  public abstract Mono<Void> close();

  /**
   * Completes when the server has closed, whoever closed it. Does not start closing.
   *
   * @return a {@code Mono} that completes after {@link #close()} has finished
   */
  public abstract Mono<Void> onClose();

  /**
   * Closes the server and waits for it: the blocking twin of {@link #close()}, for {@code main}
   * methods and tests. Never call it on an event loop or a Reactor parallel thread.
   *
   * @param timeout how long to wait at most
   * @throws IllegalStateException if the server did not close within {@code timeout}
   */
  public void closeNow(Duration timeout) {
    Objects.requireNonNull(timeout, "timeout");
    close().block(timeout);
  }
}

package io.skymesh.mesh.internal.metrics;

/**
 * What the request layer tells the connection meters about one peer process: its requests from this
 * process in flight and waiting, by the peer's listen address. Instant readings, read when the
 * registry is scraped.
 */
public interface RequestLoad {

  /** No requests anywhere. */
  RequestLoad NONE =
      new RequestLoad() {
        @Override
        public int inFlight(String address) {
          return 0;
        }

        @Override
        public int queued(String address) {
          return 0;
        }
      };

  /**
   * Requests to the process at {@code address} admitted by its limiter and not yet ended.
   *
   * @param address the peer's listen address
   * @return the count, 0 if none
   */
  int inFlight(String address);

  /**
   * Requests to the process at {@code address} waiting for a slot in its limiter.
   *
   * @param address the peer's listen address
   * @return the count, 0 if none
   */
  int queued(String address);
}

package io.skymesh.nameserver;

import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.StatusCode;

/**
 * What a running name server has done since it started, counted as it happens: the requests it read
 * by kind, the errors it answered by status, and the watch events it sent. Read from any thread; a
 * read never waits for the server.
 */
public interface NameServerCounters {

  /**
   * How many requests of one kind the server has read, whether it accepted them or not.
   *
   * @param kind the request's body; {@code BODY_NOT_SET} counts frames with no (or an unknown) body
   * @return the count
   */
  long requests(NameClientFrame.BodyCase kind);

  /**
   * How many {@code Error} answers with this status the server has sent or queued: refused
   * requests, and the last words of the connections it closed.
   *
   * @param code the status
   * @return the count; always 0 for {@code OK}
   */
  long refusals(StatusCode code);

  /**
   * How many watch events (instance and KV, snapshots included) the server has handed to its
   * connections.
   *
   * @return the count
   */
  long eventsSent();
}

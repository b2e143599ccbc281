package io.skymesh.codec;

import io.netty.handler.codec.CodecException;

/**
 * A protocol error in the framing of a connection. The connection it happened on is closed; no
 * other connection or state is affected.
 *
 * <p>On the receiving side the {@link FrameDecoder} fires it down the pipeline as it is; on the
 * sending side {@link FrameEncoder} and {@link Frames#encode} fail with it before anything is
 * written.
 */
public abstract class FrameException extends CodecException {

  private static final long serialVersionUID = 1L;

  FrameException(String message) {
    super(message);
  }

  FrameException(String message, Throwable cause) {
    super(message, cause);
  }
}

package io.skymesh.codec;

import io.netty.handler.ssl.SslHandler;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;

/**
 * TLS for the project's TCP clients, the name-server connection's and the peers' alike: the check
 * HTTPS clients make and Reactor Netty's TCP client leaves off.
 */
public final class Tls {

  private Tls() {}

  /**
   * Makes {@code handler}'s engine check that the server's certificate names the host dialed (its
   * DNS or IP subject alternative names); for Reactor Netty's {@code
   * SslProvider.Builder.handlerConfigurator}.
   *
   * @param handler a client's SSL handler
   */
  public static void verifyHostname(SslHandler handler) {
    SSLEngine engine = handler.engine();
    SSLParameters parameters = engine.getSSLParameters();
    parameters.setEndpointIdentificationAlgorithm("HTTPS");
    engine.setSSLParameters(parameters);
  }
}

package io.skymesh.examples;

import io.netty.pkitesting.X509Bundle;
import io.skymesh.mesh.MeshBuilder;
import io.skymesh.nameserver.NameServerBuilder;
import io.skymesh.testkit.TestPki;

/**
 * Mutual TLS on loopback for the examples' tests, from one test authority: the name server's
 * listener, and each mesh with a certificate of its own (its peers dial it at 127.0.0.1) to the
 * name server and to its peers.
 *
 * @param pki the authority every certificate comes from
 */
public record LoopbackTls(TestPki pki) {

  /** The name server's listener: mutual TLS, with a certificate for loopback. */
  public NameServerBuilder nameServer(NameServerBuilder nameServer) {
    return nameServer.tls(pki.serverContext(loopback(), true));
  }

  /** A mesh with a certificate of its own: mutual TLS to the name server and to its peers. */
  public MeshBuilder mesh(MeshBuilder mesh) {
    X509Bundle identity = loopback();
    return mesh.nameServerTls(pki.clientContext(identity))
        .peerTls(pki.serverContext(identity, true), pki.clientContext(identity));
  }

  /** A new certificate for {@code localhost} and {@code 127.0.0.1}. */
  public X509Bundle loopback() {
    return pki.issue("localhost", "127.0.0.1");
  }
}

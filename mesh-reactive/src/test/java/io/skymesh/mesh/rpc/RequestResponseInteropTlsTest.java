package io.skymesh.mesh.rpc;

import io.netty.pkitesting.X509Bundle;
import io.skymesh.mesh.MeshBuilder;
import io.skymesh.testkit.TestPki;

/** The request/response interop suite again, every peer connection over mutual TLS. */
class RequestResponseInteropTlsTest extends RequestResponseInteropTest {

  private static final TestPki PKI = TestPki.create();
  private static final X509Bundle LOOPBACK = PKI.issue("localhost", "127.0.0.1");

  @Override
  MeshBuilder transport(MeshBuilder mesh) {
    return mesh.peerTls(PKI.serverContext(LOOPBACK, true), PKI.clientContext(LOOPBACK));
  }
}

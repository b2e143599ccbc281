package io.skymesh.mesh;

import static io.skymesh.mesh.TestMeshes.DEADLINE;

import io.skymesh.core.ServiceName;
import io.skymesh.nameserver.client.NameServerConnection;
import io.skymesh.proto.Deregister;
import io.skymesh.proto.Instance;
import io.skymesh.proto.NameClientFrame;
import io.skymesh.proto.OpenSession;
import io.skymesh.proto.Register;
import java.time.Duration;
import reactor.core.publisher.Flux;

/**
 * Registers many instances with a real name server quickly: one protocol session that pipelines its
 * Register frames (no reply awaited between them), as a process hosting many instances would.
 * Blocking, for tests.
 */
final class BulkRegistrar implements AutoCloseable {

  private final NameServerConnection connection;

  private BulkRegistrar(NameServerConnection connection) {
    this.connection = connection;
  }

  /** Opens a session of appId {@code game} with a 60 s TTL, which outlasts any test. */
  static BulkRegistrar open(int port) {
    BulkRegistrar registrar =
        new BulkRegistrar(
            NameServerConnection.builder("127.0.0.1", port).connect().block(DEADLINE));
    registrar.sendAll(
        Flux.just(
            NameClientFrame.newBuilder()
                .setOpenSession(
                    OpenSession.newBuilder()
                        .setProtocolVersion(1)
                        .setAppId("game")
                        .setTtlMillis(60_000))));
    return registrar;
  }

  /** The url of instance {@code i} of {@code service}: ids sort as the numbers do. */
  static String url(ServiceName service, int i) {
    return service + "/i" + String.format("%06d", i);
  }

  /** Registers instances {@code from} to {@code to - 1} of {@code service}, all acknowledged. */
  void register(ServiceName service, int from, int to) {
    sendAll(
        Flux.range(from, to - from)
            .map(
                i ->
                    NameClientFrame.newBuilder()
                        .setRegister(
                            Register.newBuilder()
                                .setInstance(
                                    Instance.newBuilder()
                                        .setUrl(url(service, i))
                                        .setAddress("127.0.0.1:" + (20_000 + i % 1_000))
                                        .setWeight(1)
                                        .setProcessId("bulk-" + i % 1_000)
                                        .putAttributes("n", Integer.toString(i))))));
  }

  /** Deregisters instances {@code from} to {@code to - 1} of {@code service}, all acknowledged. */
  void deregister(ServiceName service, int from, int to) {
    sendAll(
        Flux.range(from, to - from)
            .map(
                i ->
                    NameClientFrame.newBuilder()
                        .setDeregister(Deregister.newBuilder().setUrl(url(service, i)))));
  }

  /**
   * Sends every request at once, none waiting for an earlier answer, and waits until all are
   * acknowledged; fails with the typed error of the first refusal.
   */
  private void sendAll(Flux<NameClientFrame.Builder> requests) {
    Duration deadline = DEADLINE.multipliedBy(4); // a deadline for many requests, not for one
    requests.flatMap(connection::request, Integer.MAX_VALUE).then().block(deadline);
  }

  @Override
  public void close() {
    connection.close().block(DEADLINE);
  }
}

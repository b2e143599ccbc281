package io.skymesh.examples.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ServerCredentials;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.TlsServerCredentials;
import io.netty.pkitesting.X509Bundle;
import io.skymesh.examples.LoopbackTls;
import io.skymesh.grpc.GrpcRegistration;
import io.skymesh.mesh.Mesh;
import io.skymesh.nameserver.NameServer;
import io.skymesh.testkit.TestPki;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The gRPC helloworld over TLS: the name server and the meshes over mutual TLS, and the gRPC
 * servers and channel too, the channel checking each server's certificate against the service name
 * it asked for. The gRPC calls do not go through the mesh's peer transport, only its membership.
 */
class GrpcHelloWorldTlsTest {

  private static final Duration DEADLINE = Duration.ofSeconds(30);
  private static final TestPki PKI = TestPki.create();
  private static final LoopbackTls LOOPBACK = new LoopbackTls(PKI);

  /** The greeters' certificate names the service, which is the channel's authority. */
  private static final X509Bundle GREETER = PKI.issue("hello.local.grpc-greeter");

  private static final GrpcHelloWorld.Security TLS =
      new GrpcHelloWorld.Security(
          LOOPBACK::nameServer,
          LOOPBACK::mesh,
          serverCredentials(GREETER),
          channelCredentials(PKI.issue("client")));

  private NameServer nameServer;
  private final List<Mesh> meshes = new ArrayList<>();
  private final List<GrpcRegistration> registrations = new ArrayList<>();
  private final List<ManagedChannel> channels = new ArrayList<>();

  @AfterEach
  void stop() throws InterruptedException {
    for (ManagedChannel channel : channels) {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    for (GrpcRegistration registration : registrations) {
      registration.server().shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    meshes.forEach(mesh -> mesh.close().block(DEADLINE));
    if (nameServer != null) {
      nameServer.closeNow(DEADLINE);
    }
  }

  @Test
  void demoAnswersEveryCallOverTls() {
    List<String> lines = GrpcHelloWorld.runDemo(6, TLS);

    assertThat(lines)
        .hasSize(6)
        .allMatch(line -> line.matches("Hello, world! \\(answered by server-[12]\\)"));
  }

  @Test
  void aPlaintextChannelCannotReachATlsGreeter() {
    Mesh client = startTls();
    register(TLS.server());

    ManagedChannel plaintext = channel(client, InsecureChannelCredentials.create());
    assertThatThrownBy(() -> GrpcHelloWorld.greet(plaintext, "outsider"))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));

    ManagedChannel secured = channel(client, TLS.channel());
    assertThat(GrpcHelloWorld.greet(secured, "insider").getMessage()).isEqualTo("Hello, insider!");
  }

  @Test
  void aGreeterWhoseCertificateNamesAnotherServiceIsRefused() {
    Mesh client = startTls();
    register(serverCredentials(LOOPBACK.loopback()));

    ManagedChannel channel = channel(client, TLS.channel());
    assertThatThrownBy(() -> GrpcHelloWorld.greet(channel, "world"))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE))
        .hasStackTraceContaining("SSLHandshakeException")
        .hasStackTraceContaining("hello.local.grpc-greeter");
  }

  /** Starts the name server and the servers' mesh over TLS; returns the client's mesh. */
  private Mesh startTls() {
    nameServer = TLS.nameServer().apply(NameServer.builder().port(0)).start().block(DEADLINE);
    meshes.add(mesh());
    Mesh client = mesh();
    meshes.add(client);
    return client;
  }

  private Mesh mesh() {
    return TLS.meshes()
        .apply(Mesh.builder("hello").nameServer("127.0.0.1:" + nameServer.port()))
        .start()
        .block(DEADLINE);
  }

  private void register(ServerCredentials credentials) {
    registrations.add(
        GrpcGreeter.start(meshes.get(0), GrpcHelloWorld.GREETER.instance("1"), credentials)
            .block(DEADLINE));
    // The client's mesh has seen the greeter before the first call.
    meshes
        .get(1)
        .router(GrpcHelloWorld.GREETER)
        .views()
        .filter(view -> view.size() == 1)
        .blockFirst(DEADLINE);
  }

  private ManagedChannel channel(Mesh mesh, ChannelCredentials credentials) {
    ManagedChannel channel = GrpcHelloWorld.channel(mesh, credentials);
    channels.add(channel);
    return channel;
  }

  /** Mutual TLS: presents {@code identity}, requires a client certificate from the authority. */
  private static ServerCredentials serverCredentials(X509Bundle identity) {
    try {
      return TlsServerCredentials.newBuilder()
          .keyManager(pem(identity.getCertificatePathPEM()), pem(identity.getPrivateKeyPEM()))
          .trustManager(pem(PKI.authority().getCertificatePEM()))
          .clientAuth(TlsServerCredentials.ClientAuth.REQUIRE)
          .build();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private static ChannelCredentials channelCredentials(X509Bundle identity) {
    try {
      return TlsChannelCredentials.newBuilder()
          .keyManager(pem(identity.getCertificatePathPEM()), pem(identity.getPrivateKeyPEM()))
          .trustManager(pem(PKI.authority().getCertificatePEM()))
          .build();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private static InputStream pem(String text) {
    return new ByteArrayInputStream(text.getBytes(StandardCharsets.US_ASCII));
  }
}

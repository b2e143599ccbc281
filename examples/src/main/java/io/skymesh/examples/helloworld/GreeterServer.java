package io.skymesh.examples.helloworld;

import com.google.protobuf.ByteString;
import io.skymesh.core.ServiceUrl;
import io.skymesh.mesh.Mesh;
import io.skymesh.mesh.MeshService;
import java.util.concurrent.atomic.AtomicReference;
import reactor.core.publisher.Mono;

/**
 * The greeter: answers every message "name" with a message "Hello, name!" sent back to its source.
 */
public final class GreeterServer {

  /** The greeter's ServiceUrl in the demo. */
  public static final ServiceUrl URL = ServiceUrl.parse("hello.local.greeter/1");

  private GreeterServer() {}

  /**
   * Registers the greeter in a mesh.
   *
   * @param mesh a mesh of appId {@code hello}
   * @param url the greeter's ServiceUrl
   * @return the registered greeter
   */
  public static Mono<MeshService> register(Mesh mesh, ServiceUrl url) {
    AtomicReference<MeshService> self = new AtomicReference<>();
    return mesh.register(
            url,
            message ->
                self.get()
                    .sendTo(
                        message.source(),
                        ByteString.copyFromUtf8(
                            "Hello, " + message.payload().toStringUtf8() + "!")))
        .doOnNext(self::set);
  }
}

package io.skymesh.examples.webflux;

import io.skymesh.nameserver.NameServer;
import java.time.Duration;
import java.util.Arrays;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

/**
 * The WebFlux example application: {@code GET /hello/{name}} greets through the mesh, {@code GET
 * /members/{service}} streams a service's membership as server-sent events.
 *
 * <p>{@code java -jar examples/webflux/target/webflux.jar} starts an embedded name server when no
 * {@code --skymesh.name-server=host:port} is given, so one command runs it; then {@code curl
 * localhost:8080/hello/world} and {@code curl localhost:8080/members/hello.web.greeter}.
 */
@SpringBootApplication
public class WebFluxExample {

  /** Created by Spring. */
  public WebFluxExample() {}

  /**
   * Runs the application.
   *
   * @param args Spring Boot arguments, such as {@code --skymesh.name-server=127.0.0.1:9099}
   */
  public static void main(String[] args) {
    String[] arguments = args;
    if (Arrays.stream(args).noneMatch(a -> a.startsWith("--skymesh.name-server="))) {
      NameServer nameServer = NameServer.builder().port(0).start().block(Duration.ofSeconds(30));
      System.out.println("Embedded name server on 127.0.0.1:" + nameServer.port());
      arguments = Arrays.copyOf(args, args.length + 1);
      arguments[args.length] = "--skymesh.name-server=127.0.0.1:" + nameServer.port();
    }
    SpringApplication.run(WebFluxExample.class, arguments);
  }
}

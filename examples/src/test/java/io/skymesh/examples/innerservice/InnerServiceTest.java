package io.skymesh.examples.innerservice;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class InnerServiceTest {

  @Test
  void clientNotifiesThenGetsItsGreetingWithinTheDeadlineAndBothSidesTimeIt() {
    List<String> lines = InnerService.runDemo("mesh");

    assertThat(lines)
        .contains("greeter notified: mesh is about to say hello", "client got: Hello, mesh!")
        .anySatisfy(l -> assertThat(l).startsWith("client timing: Notify onComplete in "))
        .anySatisfy(l -> assertThat(l).startsWith("client timing: SayHello onComplete in "))
        .anySatisfy(
            l -> assertThat(l).startsWith("server timing: Notify (notification) onComplete in "))
        .anySatisfy(l -> assertThat(l).startsWith("server timing: SayHello onComplete in "));
    assertThat(lines.indexOf("client got: Hello, mesh!"))
        .isGreaterThan(lines.indexOf("greeter notified: mesh is about to say hello"));
  }

  @Test
  void mainRunsTheDemo() {
    InnerService.main(new String[] {"demo", "reactor"});
  }
}

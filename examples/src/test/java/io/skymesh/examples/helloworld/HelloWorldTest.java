package io.skymesh.examples.helloworld;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class HelloWorldTest {

  @Test
  void greeterAnswersEveryNameInOrder() {
    List<String> answers = HelloWorld.runDemo(List.of("world", "mesh", "reactor"));

    assertThat(answers).containsExactly("Hello, world!", "Hello, mesh!", "Hello, reactor!");
  }

  @Test
  void mainRunsTheDemo() {
    HelloWorld.main(new String[] {"demo"});
  }
}

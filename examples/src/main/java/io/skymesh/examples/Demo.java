package io.skymesh.examples;

import io.skymesh.examples.codec.CodecRoundTrip;

/** The entry point of {@code java -jar examples/target/examples.jar}: runs the demo. */
public final class Demo {

  private Demo() {}

  /**
   * Runs the demo.
   *
   * @param args passed to the demo
   */
  public static void main(String[] args) {
    CodecRoundTrip.main(args);
  }
}

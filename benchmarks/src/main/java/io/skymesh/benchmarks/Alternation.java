package io.skymesh.benchmarks;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;

/**
 * Two variants of the code under test in one fork, iteration by iteration: before each iteration
 * (warm-up included), the {@code static boolean} field named by {@code
 * -Dskymesh.bench.alternate=<class>#<field>} is set, {@code true} before the first and every other
 * one after it. An experiment adds that field to the code it changes, in a working tree that is not
 * committed, and reads it where the two variants part; {@code benchmarks/ab.py} then compares the
 * even iterations with the odd ones. Neighbouring iterations share the machine's state of the
 * moment, which one-fork runs of two jars, minutes apart, do not (benchmarks/README.md, "Comparing
 * two variants in one fork").
 */
final class Alternation {

  /** The system property naming the field. */
  static final String PROPERTY = "skymesh.bench.alternate";

  private static final Field FIELD = field(System.getProperty(PROPERTY));
  private static int iterations;

  private Alternation() {}

  /** Sets the field for the next iteration, if the property names one; nothing otherwise. */
  static synchronized void nextIteration() {
    if (FIELD == null) {
      return;
    }
    boolean value = iterations++ % 2 == 0;
    try {
      FIELD.setBoolean(null, value);
    } catch (IllegalAccessException e) {
      throw new IllegalStateException(PROPERTY + ": " + FIELD + " cannot be set", e);
    }
    System.out.print("[" + FIELD.getName() + "=" + value + "] ");
  }

  private static Field field(String name) {
    if (name == null || name.isEmpty()) {
      return null;
    }
    int hash = name.indexOf('#');
    if (hash <= 0 || hash == name.length() - 1) {
      throw new IllegalArgumentException(PROPERTY + " must read <class>#<field>, not " + name);
    }
    try {
      Field field =
          Class.forName(name.substring(0, hash)).getDeclaredField(name.substring(hash + 1));
      if (field.getType() != boolean.class || !Modifier.isStatic(field.getModifiers())) {
        throw new IllegalArgumentException(PROPERTY + ": " + name + " is no static boolean");
      }
      field.setAccessible(true);
      return field;
    } catch (ReflectiveOperationException e) {
      throw new IllegalArgumentException(PROPERTY + ": no field " + name, e);
    }
  }
}

package io.skymesh.testkit;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;

/**
 * Every thread's state and stack, as text: for a test's failure message when something it waited
 * for never came, so that a rare hang on a CI machine says which thread was stuck where.
 */
public final class ThreadDumps {

  private static final int MAX_FRAMES = 24;

  private ThreadDumps() {}

  /**
   * The threads of this JVM, each with its state, what it waits on and up to 24 frames.
   *
   * @return the dump
   */
  public static String all() {
    StringBuilder dump = new StringBuilder("Threads:\n");
    for (ThreadInfo info :
        ManagementFactory.getThreadMXBean().dumpAllThreads(true, true, MAX_FRAMES)) {
      dump.append('"').append(info.getThreadName()).append("\" ").append(info.getThreadState());
      if (info.getLockName() != null) {
        dump.append(" on ").append(info.getLockName());
      }
      if (info.getLockOwnerName() != null) {
        dump.append(" owned by \"").append(info.getLockOwnerName()).append('"');
      }
      dump.append('\n');
      for (StackTraceElement frame : info.getStackTrace()) {
        dump.append("    at ").append(frame).append('\n');
      }
    }
    return dump.toString();
  }
}

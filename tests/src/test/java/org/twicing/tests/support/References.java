package org.twicing.tests.support;

import java.util.function.Supplier;
import org.junit.jupiter.api.Assumptions;

/**
 * What a test does when an external reference (PyTorch, the onnx package) is missing: on a developer's machine it
 * skips, but under {@code -D}{@value #PROPERTY}{@code =true} (set by {@code .ci/run}) it fails, so that CI can
 * never pass with the reference tests silently skipped.
 */
public final class References {
  /** The system property (passed through Surefire) that turns a missing reference into a failure. */
  public static final String PROPERTY = "twicing.requireReferences";

  private References() { }

  /** Whether a missing reference fails the test (CI) rather than skipping it. */
  public static boolean required() {
    return Boolean.getBoolean(PROPERTY);
  }

  /**
   * Continues when {@code available}; otherwise fails the test when references are {@linkplain #required()
   * required}, else skips it (a JUnit assumption), either way with {@code why}.
   */
  public static void assume(boolean available, Supplier<String> why) {
    if (available) {
      return;
    }
    String reason = why.get();
    if (required()) {
      throw new AssertionError(reason + " (-D" + PROPERTY + "=true: a missing reference is a failure, not a skip)");
    }
    Assumptions.abort(reason);
  }
}

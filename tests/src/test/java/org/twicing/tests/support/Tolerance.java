package org.twicing.tests.support;

import java.util.Arrays;
import org.twicing.dsl.types.Tensor;

/**
 * Numeric comparison helpers shared by the tests: a max-norm relative error and an elementwise allclose, each with
 * an asserting variant whose failure message says where and by how much the tensors differ.
 */
public final class Tolerance {
  /** The floor of the denominator of {@link #relErr}, so all-zero references do not divide by zero. */
  public static final double TINY = 1e-30;

  private Tolerance() { }

  /** max|a - b| / max(max|b|, {@link #TINY}); NaN anywhere gives NaN. Arrays must have equal length. */
  public static double relErr(double[] actual, double[] expected) {
    if (actual.length != expected.length) {
      throw new IllegalArgumentException("length " + actual.length + " != " + expected.length);
    }
    double num = 0;
    double den = 0;
    for (int i = 0; i < actual.length; i++) {
      double d = Math.abs(actual[i] - expected[i]);
      if (Double.isNaN(d)) {
        return Double.NaN;
      }
      num = Math.max(num, d);
      den = Math.max(den, Math.abs(expected[i]));
    }
    return num / Math.max(den, TINY);
  }

  /** {@link #relErr(double[], double[])} of two tensors, which must have equal shapes. */
  public static double relErr(Tensor actual, Tensor expected) {
    requireSameShape(actual, expected, "relErr");
    return relErr(actual.toDoubles(), expected.toDoubles());
  }

  /** Whether |a - b| &lt;= atol + rtol * |b| holds elementwise (NaN is never close); arrays of equal length. */
  public static boolean allClose(double[] actual, double[] expected, double rtol, double atol) {
    return firstMismatch(actual, expected, rtol, atol) < 0;
  }

  /** {@link #allClose(double[], double[], double, double)} of two tensors, false when the shapes differ. */
  public static boolean allClose(Tensor actual, Tensor expected, double rtol, double atol) {
    return Arrays.equals(actual.shape(), expected.shape())
        && allClose(actual.toDoubles(), expected.toDoubles(), rtol, atol);
  }

  /** Asserts equal shapes and {@code relErr(actual, expected) <= tol}; {@code what} names the compared value. */
  public static void assertRelErr(Tensor actual, Tensor expected, double tol, String what) {
    requireSameShape(actual, expected, what);
    double e = relErr(actual.toDoubles(), expected.toDoubles());
    if (!(e <= tol)) {
      int worst = worstIndex(actual.toDoubles(), expected.toDoubles());
      throw new AssertionError(what + ": relative error " + e + " exceeds " + tol + " (worst at flat index "
          + worst + ": got " + actual.get(worst) + ", expected " + expected.get(worst) + "; shape "
          + Arrays.toString(expected.shape()) + ")");
    }
  }

  /** Asserts equal shapes and elementwise closeness; {@code what} names the compared value. */
  public static void assertAllClose(Tensor actual, Tensor expected, double rtol, double atol, String what) {
    requireSameShape(actual, expected, what);
    int i = firstMismatch(actual.toDoubles(), expected.toDoubles(), rtol, atol);
    if (i >= 0) {
      throw new AssertionError(what + ": not close at flat index " + i + ": got " + actual.get(i) + ", expected "
          + expected.get(i) + " (rtol " + rtol + ", atol " + atol + ")");
    }
  }

  /** Asserts equal dtypes, shapes and values exactly (for integer and bool results). */
  public static void assertExact(Tensor actual, Tensor expected, String what) {
    if (actual.dtype() != expected.dtype()) {
      throw new AssertionError(what + ": dtype " + actual.dtype() + ", expected " + expected.dtype());
    }
    assertAllClose(actual, expected, 0, 0, what);
  }

  private static int firstMismatch(double[] a, double[] b, double rtol, double atol) {
    if (a.length != b.length) {
      throw new IllegalArgumentException("length " + a.length + " != " + b.length);
    }
    for (int i = 0; i < a.length; i++) {
      if (!(Math.abs(a[i] - b[i]) <= atol + rtol * Math.abs(b[i]))) {
        return i;
      }
    }
    return -1;
  }

  private static int worstIndex(double[] a, double[] b) {
    int worst = 0;
    double max = -1;
    for (int i = 0; i < a.length; i++) {
      double d = Math.abs(a[i] - b[i]);
      if (Double.isNaN(d)) {
        return i;
      }
      if (d > max) {
        max = d;
        worst = i;
      }
    }
    return worst;
  }

  private static void requireSameShape(Tensor a, Tensor b, String what) {
    if (!Arrays.equals(a.shape(), b.shape())) {
      throw new AssertionError(what + ": shape " + Arrays.toString(a.shape()) + ", expected "
          + Arrays.toString(b.shape()));
    }
  }
}

package org.twicing.models.conformance;

import java.util.Arrays;
import java.util.Locale;
import org.twicing.dsl.types.Tensor;

/**
 * The comparison ONNX's backend runner makes ({@code numpy.testing.assert_allclose} after an equal-dtype check):
 * dtypes and shapes equal, and elementwise {@code |actual - expected| <= atol + rtol * |expected|}, where NaN
 * matches NaN and an infinity matches only the same infinity.
 *
 * @param ok whether {@code actual} passes
 * @param maxAbs the largest absolute difference over finite pairs (0 when there are none)
 * @param maxRel the largest {@code |actual - expected| / |expected|} over finite pairs with nonzero expected
 * @param mismatches how many elements violate the tolerance (including NaN/infinity mismatches)
 * @param problem when not ok, what is wrong in words (dtype, shape, or the worst element)
 */
public record Closeness(boolean ok, double maxAbs, double maxRel, int mismatches, String problem) {

  /** Compares {@code actual} with {@code expected} at the given tolerances. */
  public static Closeness of(Tensor expected, Tensor actual, double rtol, double atol) {
    if (expected.dtype() != actual.dtype()) {
      return new Closeness(false, Double.NaN, Double.NaN, expected.size(),
          "dtype " + actual.dtype() + ", expected " + expected.dtype());
    }
    if (!Arrays.equals(expected.shape(), actual.shape())) {
      return new Closeness(false, Double.NaN, Double.NaN, expected.size(),
          "shape " + Arrays.toString(actual.shape()) + ", expected " + Arrays.toString(expected.shape()));
    }
    double maxAbs = 0;
    double maxRel = 0;
    int bad = 0;
    int worst = -1;
    double worstExcess = Double.NEGATIVE_INFINITY;
    for (int i = 0; i < expected.size(); i++) {
      double x = actual.get(i);
      double y = expected.get(i);
      boolean close;
      double excess;
      if (Double.isNaN(x) || Double.isNaN(y) || Double.isInfinite(x) || Double.isInfinite(y)) {
        // assert_allclose: NaN equals NaN (equal_nan=True); infinities must be equal, including sign.
        close = (Double.isNaN(x) && Double.isNaN(y)) || x == y;
        excess = close ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
      } else {
        double diff = Math.abs(x - y);
        maxAbs = Math.max(maxAbs, diff);
        if (y != 0) {
          maxRel = Math.max(maxRel, diff / Math.abs(y));
        }
        double allowed = atol + rtol * Math.abs(y);
        close = diff <= allowed;
        excess = diff - allowed;
      }
      if (!close) {
        bad++;
        if (excess > worstExcess) {
          worstExcess = excess;
          worst = i;
        }
      }
    }
    if (bad == 0) {
      return new Closeness(true, maxAbs, maxRel, 0, "");
    }
    String where = String.format(Locale.ROOT, "%d of %d elements differ; worst at flat index %d: got %s, expected %s",
        bad, expected.size(), worst, actual.get(worst), expected.get(worst));
    return new Closeness(false, maxAbs, maxRel, bad, where);
  }

  /** The error sizes in words: {@code max abs 1.2e-03, max rel 4.0e-02}. */
  public String errors() {
    return String.format(Locale.ROOT, "max abs %.3g, max rel %.3g", maxAbs, maxRel);
  }
}

package org.twicing.models.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;

/**
 * {@link Closeness} judges every element as {@code numpy.isclose(actual, expected, rtol, atol, equal_nan=True)}
 * does (the test under ONNX's backend runner's {@code assert_allclose}), checked against numpy itself run by
 * Debian's /usr/bin/python3, on values near the tolerance boundary and on NaN and infinities.
 */
class ClosenessTest {
  private static final double RTOL = 1e-3;
  private static final double ATOL = 1e-7;

  @Test
  void agreesWithNumpyElementByElement() throws Exception {
    Random rng = new Random(7);
    List<double[]> pairs = new ArrayList<>();
    double[] special = {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 0.0, -0.0, 1e-8, 1.0};
    for (double a : special) {
      for (double b : special) {
        pairs.add(new double[] {a, b});
      }
    }
    for (int i = 0; i < 400; i++) {
      double expected = rng.nextGaussian() * Math.pow(10, rng.nextInt(9) - 6);
      // Differences spread around the allowed atol + rtol * |expected|, on both sides of it.
      double allowed = ATOL + RTOL * Math.abs(expected);
      double actual = expected + (rng.nextBoolean() ? 1 : -1) * allowed * (0.5 + rng.nextDouble());
      pairs.add(new double[] {actual, expected});
    }
    StringBuilder script = new StringBuilder("import numpy as np\nnan=float('nan'); inf=float('inf')\na=[");
    StringBuilder e = new StringBuilder("]\ne=[");
    for (double[] p : pairs) {
      script.append(py(p[0])).append(',');
      e.append(py(p[1])).append(',');
    }
    script.append(e).append("]\nprint(''.join('1' if c else '0' for c in np.isclose(np.array(a), np.array(e), ")
        .append("rtol=").append(RTOL).append(", atol=").append(ATOL).append(", equal_nan=True)))\n");
    String numpy = python(script.toString()).strip();
    assertEquals(pairs.size(), numpy.length(), numpy);
    for (int i = 0; i < pairs.size(); i++) {
      Tensor actual = new Tensor(DType.FLOAT64, new long[] {1}, new double[] {pairs.get(i)[0]});
      Tensor expected = new Tensor(DType.FLOAT64, new long[] {1}, new double[] {pairs.get(i)[1]});
      boolean ours = Closeness.of(expected, actual, RTOL, ATOL).ok();
      assertEquals(numpy.charAt(i) == '1', ours, "actual " + pairs.get(i)[0] + " vs expected " + pairs.get(i)[1]);
    }
  }

  @Test
  void dtypeAndShapeMustMatchAsInTheBackendRunner() {
    Tensor f32 = Tensor.floats(new long[] {2}, 1f, 2f);
    Tensor f64 = new Tensor(DType.FLOAT64, new long[] {2}, new double[] {1, 2});
    Tensor f32col = Tensor.floats(new long[] {2, 1}, 1f, 2f);
    Closeness dtype = Closeness.of(f32, f64, RTOL, ATOL);
    assertFalse(dtype.ok());
    assertTrue(dtype.problem().contains("dtype float64, expected float32"), dtype.problem());
    Closeness shape = Closeness.of(f32, f32col, RTOL, ATOL);
    assertFalse(shape.ok());
    assertTrue(shape.problem().contains("shape [2, 1], expected [2]"), shape.problem());
  }

  private static String py(double v) {
    if (Double.isNaN(v)) {
      return "nan";
    }
    if (Double.isInfinite(v)) {
      return v > 0 ? "inf" : "-inf";
    }
    return String.format(Locale.ROOT, "%.17g", v);
  }

  private static String python(String script) throws Exception {
    Process p = new ProcessBuilder("/usr/bin/python3", "-c", script).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "python did not finish");
    assertEquals(0, p.exitValue(), "numpy reference failed (Debian's python3-numpy is required):\n" + out);
    return out;
  }
}

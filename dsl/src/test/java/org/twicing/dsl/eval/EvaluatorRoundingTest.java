package org.twicing.dsl.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.ops.Ops;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Rounding;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/**
 * The evaluator's rounding policy, checked against plain Java: under {@link Rounding#TO_DTYPE} a float32 graph
 * computes what Java float arithmetic computes (each op rounded to float32), under {@link Rounding#KEEP_FLOAT64}
 * what the same expression computes in double; integer casts truncate under both.
 */
class EvaluatorRoundingTest {
  private static final float[] X = {0.1f, 1f / 3, -2.7f, 1e-3f, 12345.678f};

  /** y = x * x + x / 3 in float32; n = cast(y * 10, int64). */
  private static Graph graph() {
    GraphBuilder g = new GraphBuilder("rounding");
    Value x = g.input("x", TensorType.of(DType.FLOAT32, X.length));
    Value three = g.constant(Tensor.scalar(DType.FLOAT32, 3));
    Value ten = g.constant(Tensor.scalar(DType.FLOAT32, 10));
    Value y = Ops.add(Ops.mul(x, x), Ops.div(x, three));
    g.output("y", y);
    g.output("n", Ops.cast(Ops.mul(y, ten), DType.INT64));
    return g.build();
  }

  private static Map<String, Tensor> feeds() {
    return Map.of("x", Tensor.floats(new long[] {X.length}, X));
  }

  @Test
  void toDTypeRoundsEachOpToFloat32AsJavaFloatArithmeticDoes() {
    double[] y = new double[X.length];
    double[] n = new double[X.length];
    for (int i = 0; i < X.length; i++) {
      float x = X[i];
      float v = x * x + x / 3f;
      y[i] = v;
      n[i] = (long) (v * 10f);
    }
    Map<String, Tensor> out = Evaluator.run(graph(), feeds(), Rounding.TO_DTYPE);
    assertArrayEquals(y, out.get("y").toDoubles(), 0.0);
    assertArrayEquals(n, out.get("n").toDoubles(), 0.0);
    assertEquals(out, Evaluator.run(graph(), feeds()), "run without a policy rounds to the dtype");
  }

  @Test
  void keepFloat64EvaluatesTheFloat32GraphInDouble() {
    double[] y = new double[X.length];
    double[] n = new double[X.length];
    for (int i = 0; i < X.length; i++) {
      double x = X[i];
      double v = x * x + x / 3.0;
      y[i] = v;
      n[i] = (long) (v * 10.0);
    }
    Map<String, Tensor> out = Evaluator.run(graph(), feeds(), Rounding.KEEP_FLOAT64);
    assertArrayEquals(y, out.get("y").toDoubles(), 0.0);
    assertArrayEquals(n, out.get("n").toDoubles(), 0.0);
    assertEquals(out, Evaluator.runFloat64(graph(), feeds()), "runFloat64 is KEEP_FLOAT64");
  }

  @Test
  void thePoliciesDifferOnThisCase() {
    double[] rounded = Evaluator.run(graph(), feeds(), Rounding.TO_DTYPE).get("y").toDoubles();
    double[] kept = Evaluator.run(graph(), feeds(), Rounding.KEEP_FLOAT64).get("y").toDoubles();
    assertFalse(Arrays.equals(rounded, kept), "float32 rounding must show on these inputs");
  }
}

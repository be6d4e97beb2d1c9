package org.twicing.tests.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Random;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.twicing.dsl.eval.Evaluator;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Node;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.nn.AttentionKind;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;
import org.twicing.tests.support.Tolerance;

/**
 * The attention kinds' {@code mix} against explicit matrix algebra: on random row-stochastic A (dense, and causal
 * lower-triangular) and random V, evaluated in float64, twicing equals {@code (2A − A·A)·V} formed by plain-Java
 * loops, higher-order twicing equals {@code (I − (I − A)^k)·V}, and the twicing operator itself has unit row sums
 * and some negative entries (so it must not be re-normalised). The twicing graph never multiplies A by A.
 */
class TwicingIdentityTest {
  static final int B = 2;
  static final int H = 3;
  static final int N = 7;
  static final int D = 5;
  static final double TOL = 1e-12;

  /** Evaluates {@code kind.mix(a, v)} in float64 through the DSL and the reference evaluator. */
  private static Tensor mix(AttentionKind kind, Tensor a, Tensor v) {
    return Evaluator.run(mixGraph(kind), Map.of("a", a, "v", v)).get("out");
  }

  private static Graph mixGraph(AttentionKind kind) {
    GraphBuilder g = new GraphBuilder("mix_" + kind.name());
    Value a = g.input("a", TensorType.of(DType.FLOAT64, "b", H, N, N));
    Value v = g.input("v", TensorType.of(DType.FLOAT64, "b", H, N, D));
    g.output("out", kind.mix(a, v));
    return g.build();
  }

  /** [B, H, N, N] rows that sum to one: softmax of N(0, scale²) scores, optionally causal (zero above diagonal). */
  static Tensor rowStochastic(Random rng, double scale, boolean causal) {
    double[] d = new double[B * H * N * N];
    for (int m = 0; m < B * H; m++) {
      for (int i = 0; i < N; i++) {
        double sum = 0;
        for (int j = 0; j < N; j++) {
          double e = causal && j > i ? 0 : Math.exp(scale * rng.nextGaussian());
          d[(m * N + i) * N + j] = e;
          sum += e;
        }
        for (int j = 0; j < N; j++) {
          d[(m * N + i) * N + j] /= sum;
        }
      }
    }
    return new Tensor(DType.FLOAT64, new long[] {B, H, N, N}, d);
  }

  static Tensor randomV(Random rng) {
    return Tensor.randn(DType.FLOAT64, rng, 1.0, B, H, N, D);
  }

  // ------------------------------------------------------------------ plain-Java matrix algebra per (b, h)

  static double[][] matrix(Tensor t, int m, int rows, int cols) {
    double[][] r = new double[rows][cols];
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < cols; j++) {
        r[i][j] = t.get((m * rows + i) * cols + j);
      }
    }
    return r;
  }

  static double[][] matmul(double[][] x, double[][] y) {
    int n = x.length;
    int k = y.length;
    int p = y[0].length;
    double[][] r = new double[n][p];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < p; j++) {
        double s = 0;
        for (int l = 0; l < k; l++) {
          s += x[i][l] * y[l][j];
        }
        r[i][j] = s;
      }
    }
    return r;
  }

  static double[][] lin(double ca, double[][] x, double cb, double[][] y) {
    double[][] r = new double[x.length][x[0].length];
    for (int i = 0; i < x.length; i++) {
      for (int j = 0; j < x[0].length; j++) {
        r[i][j] = ca * x[i][j] + cb * y[i][j];
      }
    }
    return r;
  }

  static double[][] eye(int n) {
    double[][] r = new double[n][n];
    for (int i = 0; i < n; i++) {
      r[i][i] = 1;
    }
    return r;
  }

  /** I − (I − A)^k. */
  static double[][] higherOrderOperator(double[][] a, int k) {
    double[][] residual = lin(1, eye(N), -1, a);
    double[][] power = eye(N);
    for (int i = 0; i < k; i++) {
      power = matmul(power, residual);
    }
    return lin(1, eye(N), -1, power);
  }

  /** {@code op(A_m)·V_m} for every (b, h) as a [B, H, N, D] tensor. */
  static Tensor apply(Tensor a, Tensor v, UnaryOperator<double[][]> op) {
    double[] out = new double[B * H * N * D];
    for (int m = 0; m < B * H; m++) {
      double[][] r = matmul(op.apply(matrix(a, m, N, N)), matrix(v, m, N, D));
      for (int i = 0; i < N; i++) {
        System.arraycopy(r[i], 0, out, (m * N + i) * D, D);
      }
    }
    return new Tensor(DType.FLOAT64, new long[] {B, H, N, D}, out);
  }

  // ------------------------------------------------------------------ tests

  @Test
  void twicingEqualsTwoAMinusASquaredTimesV() {
    Random rng = new Random(11);
    for (boolean causal : new boolean[] {false, true}) {
      Tensor a = rowStochastic(rng, 2.0, causal);
      Tensor v = randomV(rng);
      Tensor explicit = apply(a, v, m -> lin(2, m, -1, matmul(m, m)));
      Tensor got = mix(AttentionKind.TWICING, a, v);
      double err = Tolerance.relErr(got, explicit);
      System.out.printf("[identity] twicing vs (2A - A^2)V (%s): rel err %.2e%n", causal ? "causal" : "dense", err);
      Tolerance.assertRelErr(got, explicit, TOL, "twicing mix (" + (causal ? "causal" : "dense") + ")");
      // And it is not plain attention: the correction term is not negligible.
      Tensor av = apply(a, v, m -> m);
      assertTrue(Tolerance.relErr(got, av) > 1e-2, "twicing differs from A·V");
    }
  }

  @Test
  void twicingOperatorHasUnitRowSumsAndNegativeEntries() {
    Random rng = new Random(12);
    Tensor a = rowStochastic(rng, 2.0, false);
    // Applying the mix to V = I (per head, N = D) yields the operator 2A − A² itself.
    GraphBuilder g = new GraphBuilder("operator");
    Value av = g.input("a", TensorType.of(DType.FLOAT64, B, H, N, N));
    Value iv = g.input("v", TensorType.of(DType.FLOAT64, B, H, N, N));
    g.output("out", AttentionKind.TWICING.mix(av, iv));
    double[] id = new double[B * H * N * N];
    for (int m = 0; m < B * H; m++) {
      for (int i = 0; i < N; i++) {
        id[(m * N + i) * N + i] = 1;
      }
    }
    Tensor t = Evaluator.run(g.build(), Map.of("a", a, "v", new Tensor(DType.FLOAT64, new long[] {B, H, N, N}, id)))
        .get("out");
    int negative = 0;
    double worstRowSum = 0;
    for (int row = 0; row < B * H * N; row++) {
      double s = 0;
      for (int j = 0; j < N; j++) {
        double e = t.get(row * N + j);
        s += e;
        if (e < 0) {
          negative++;
        }
      }
      worstRowSum = Math.max(worstRowSum, Math.abs(s - 1));
    }
    System.out.printf("[identity] 2A - A^2: max |row sum - 1| %.2e, %d of %d entries negative%n", worstRowSum,
        negative, t.size());
    assertTrue(worstRowSum < 1e-12, "rows of 2A - A^2 sum to 1, worst deviation " + worstRowSum);
    assertTrue(negative > 0, "2A - A^2 has negative entries on random attention");
    // Causal A gives a lower-triangular operator (twicing keeps causality).
    Tensor causal = rowStochastic(rng, 2.0, true);
    Tensor tc = Evaluator.run(g.build(), Map.of("a", causal,
        "v", new Tensor(DType.FLOAT64, new long[] {B, H, N, N}, id))).get("out");
    for (int m = 0; m < B * H; m++) {
      for (int i = 0; i < N; i++) {
        for (int j = i + 1; j < N; j++) {
          assertEquals(0.0, tc.get((m * N + i) * N + j), 0.0, "causal twicing operator entry above the diagonal");
        }
      }
    }
  }

  @Test
  void higherOrderTwicingIsIMinusIMinusAToTheK() {
    Random rng = new Random(13);
    Tensor a = rowStochastic(rng, 1.5, false);
    Tensor v = randomV(rng);
    Tensor softmax = mix(AttentionKind.SOFTMAX, a, v);
    Tensor twicing = mix(AttentionKind.TWICING, a, v);
    Tolerance.assertRelErr(softmax, apply(a, v, m -> m), TOL, "softmax mix = A·V");
    Tolerance.assertRelErr(mix(AttentionKind.higherOrder(1), a, v), softmax, TOL, "higherOrder(1) = A·V");
    Tolerance.assertRelErr(mix(AttentionKind.higherOrder(2), a, v), twicing, TOL, "higherOrder(2) = twicing");
    for (int k = 1; k <= 4; k++) {
      final int kk = k;
      Tensor got = mix(AttentionKind.higherOrder(k), a, v);
      Tensor explicit = apply(a, v, m -> higherOrderOperator(m, kk));
      double err = Tolerance.relErr(got, explicit);
      System.out.printf("[identity] higherOrder(%d) vs (I - (I - A)^%d)V: rel err %.2e%n", k, k, err);
      Tolerance.assertRelErr(got, explicit, TOL, "higherOrder(" + k + ")");
    }
    assertEquals("twicing3", AttentionKind.parse("twicing3").name());
    Tolerance.assertRelErr(mix(AttentionKind.parse("twicing3"), a, v), apply(a, v, m -> higherOrderOperator(m, 3)),
        TOL, "parse(twicing3)");
  }

  @Test
  void twicingGraphNeverFormsASquared() {
    // Twicing adds exactly one N×N·N×d product to softmax attention and never multiplies A by itself.
    assertEquals(1, countMatMuls(mixGraph(AttentionKind.SOFTMAX)));
    assertEquals(2, countMatMuls(mixGraph(AttentionKind.TWICING)));
    assertEquals(4, countMatMuls(mixGraph(AttentionKind.higherOrder(4))));
    for (AttentionKind k : new AttentionKind[] {AttentionKind.TWICING, AttentionKind.higherOrder(3)}) {
      for (Node n : mixGraph(k).nodes()) {
        if (n.op().onnxType().equals("MatMul")) {
          assertEquals("a", n.input(0).name(), k.name() + ": every product is A·(something)");
          assertTrue(!n.input(1).name().equals("a"), k.name() + ": no A·A product");
          assertEquals(D, n.output(0).shape().dim(-1).size(), k.name() + ": products are N×N·N×d");
        }
      }
    }
  }

  private static long countMatMuls(Graph g) {
    return g.nodes().stream().filter(n -> n.op().onnxType().equals("MatMul")).count();
  }
}

package org.twicing.tests.models;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.twicing.dsl.eval.Evaluator;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.nn.Attention;
import org.twicing.dsl.nn.AttentionKind;
import org.twicing.dsl.nn.Forward;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;
import org.twicing.tests.support.Tolerance;

/**
 * A whole attention layer with a key-padding mask (and optionally causal), against plain-Java float64 matrix
 * algebra: masked keys get zero weight, A's rows renormalise over the kept keys, and twicing applies
 * {@code (2A − A²)V} to that A before the output projection.
 */
class KeyPaddingAttentionTest {
  static final int N = 5;
  static final int DIM = 8;
  static final int HEADS = 2;

  private static double[][] linear(double[][] x, Tensor w, Tensor b) {
    int out = (int) w.dim(0);
    int in = (int) w.dim(1);
    double[][] y = new double[x.length][out];
    for (int t = 0; t < x.length; t++) {
      for (int o = 0; o < out; o++) {
        double s = b == null ? 0 : b.get(o);
        for (int i = 0; i < in; i++) {
          s += x[t][i] * w.get(o * in + i);
        }
        y[t][o] = s;
      }
    }
    return y;
  }

  /** Reference output for one sequence. */
  private static double[][] reference(double[][] x, boolean[] keep, boolean causal, boolean twicing, StateDict w) {
    double[][] qkv = linear(x, w.get("qkv.weight"), w.get("qkv.bias"));
    int dh = DIM / HEADS;
    double[][] merged = new double[N][DIM];
    for (int h = 0; h < HEADS; h++) {
      double[][] a = new double[N][N];
      for (int i = 0; i < N; i++) {
        double max = Double.NEGATIVE_INFINITY;
        double[] s = new double[N];
        for (int j = 0; j < N; j++) {
          if (!keep[j] || (causal && j > i)) {
            s[j] = Double.NEGATIVE_INFINITY;
            continue;
          }
          for (int d = 0; d < dh; d++) {
            s[j] += qkv[i][h * dh + d] * qkv[j][DIM + h * dh + d];
          }
          s[j] /= Math.sqrt(dh);
          max = Math.max(max, s[j]);
        }
        double sum = 0;
        for (int j = 0; j < N; j++) {
          a[i][j] = s[j] == Double.NEGATIVE_INFINITY ? 0 : Math.exp(s[j] - max);
          sum += a[i][j];
        }
        for (int j = 0; j < N; j++) {
          a[i][j] /= sum;
        }
      }
      double[][] op = a;
      if (twicing) {
        op = new double[N][N];
        for (int i = 0; i < N; i++) {
          for (int j = 0; j < N; j++) {
            double a2 = 0;
            for (int k = 0; k < N; k++) {
              a2 += a[i][k] * a[k][j];
            }
            op[i][j] = 2 * a[i][j] - a2;
          }
        }
      }
      for (int i = 0; i < N; i++) {
        for (int d = 0; d < dh; d++) {
          double s = 0;
          for (int j = 0; j < N; j++) {
            s += op[i][j] * qkv[j][2 * DIM + h * dh + d];
          }
          merged[i][h * dh + d] = s;
        }
      }
    }
    return linear(merged, w.get("proj.weight"), w.get("proj.bias"));
  }

  private static void check(AttentionKind kind, boolean causal) {
    Attention attn = new Attention(Attention.Spec.builder(DIM, HEADS).kind(kind).causal(causal).maxLen(N).build());
    StateDict w = StateDict.initialize(attn, 4);
    GraphBuilder g = new GraphBuilder("attn");
    Value x = g.input("x", TensorType.of(DType.FLOAT32, "batch", N, DIM));
    Value mask = g.input("mask", TensorType.of(DType.BOOL, "batch", N));
    g.output("y", attn.forward(new Forward(g, w, false, 0), x, mask));
    Random rng = new Random(9);
    Tensor xs = Tensor.randn(DType.FLOAT32, rng, 1.0, 2, N, DIM);
    boolean[][] keep = {{true, true, true, false, false}, {true, false, true, true, true}};
    double[] m = new double[2 * N];
    for (int b = 0; b < 2; b++) {
      for (int j = 0; j < N; j++) {
        m[b * N + j] = keep[b][j] ? 1 : 0;
      }
    }
    Tensor y = Evaluator.runFloat64(g.build(), Map.of("x", xs, "mask", new Tensor(DType.BOOL, new long[] {2, N}, m)))
        .get("y");
    double[] expected = new double[2 * N * DIM];
    for (int b = 0; b < 2; b++) {
      double[][] xb = new double[N][DIM];
      for (int t = 0; t < N; t++) {
        for (int d = 0; d < DIM; d++) {
          xb[t][d] = xs.get((b * N + t) * DIM + d);
        }
      }
      double[][] r = reference(xb, keep[b], causal, kind == AttentionKind.TWICING, w);
      for (int t = 0; t < N; t++) {
        System.arraycopy(r[t], 0, expected, (b * N + t) * DIM, DIM);
      }
    }
    double err = Tolerance.relErr(y.toDoubles(), expected);
    assertTrue(err < 1e-12, kind.name() + (causal ? " causal" : "") + ": relative error " + err);
  }

  @Test
  void softmaxWithKeyPadding() {
    check(AttentionKind.SOFTMAX, false);
  }

  @Test
  void twicingWithKeyPadding() {
    check(AttentionKind.TWICING, false);
  }

  @Test
  void twicingWithKeyPaddingAndCausalMask() {
    check(AttentionKind.TWICING, true);
  }
}

package org.twicing.codegen.passes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.twicing.dsl.ops.Ops.*;

import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.twicing.dsl.eval.Evaluator;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Node;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/**
 * The softmax-to-twicing rewrite on graphs shaped like exported attention, against attention computed in plain
 * Java float64 matrix algebra: {@code A(2V − AV)} with {@code A = softmax(QKᵀ/√d)}.
 */
class TwicingRewriteTest {
  static final int B = 2;
  static final int H = 3;
  static final int N = 5;
  static final int D = 4;

  /** q, k, v [B, H, N, D] inputs; y = softmax(q kᵀ · scale, axis) (through Identity and Cast) · v. */
  private static Graph attention(long axis, boolean passThrough) {
    GraphBuilder g = new GraphBuilder("attn");
    TensorType t = TensorType.of(DType.FLOAT64, "batch", H, N, D);
    Value q = g.input("q", t);
    Value k = g.input("k", t);
    Value v = g.input("v", t);
    Value a;
    try (var s = g.scope("blocks.0.attn")) {
      Value scores = mul(matmul(q, swapLast(k)), scalarLike(q, 1.0 / Math.sqrt(D)));
      a = softmax(scores, axis);
      if (passThrough) {
        a = cast(identity(a), DType.FLOAT64);
        a = identity(a);
      }
      g.output("y", matmul(a, v));
    }
    return g.build();
  }

  private static Map<String, Tensor> feeds(long seed) {
    Random rng = new Random(seed);
    return Map.of("q", Tensor.randn(DType.FLOAT64, rng, 1.0, B, H, N, D),
        "k", Tensor.randn(DType.FLOAT64, rng, 1.0, B, H, N, D),
        "v", Tensor.randn(DType.FLOAT64, rng, 1.0, B, H, N, D));
  }

  /** Plain-Java twicing attention, head by head. */
  private static double[] twicingReference(Map<String, Tensor> f) {
    double[] q = f.get("q").toDoubles();
    double[] k = f.get("k").toDoubles();
    double[] v = f.get("v").toDoubles();
    double[] out = new double[q.length];
    for (int bh = 0; bh < B * H; bh++) {
      int o = bh * N * D;
      double[][] a = new double[N][N];
      for (int i = 0; i < N; i++) {
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < N; j++) {
          double s = 0;
          for (int c = 0; c < D; c++) {
            s += q[o + i * D + c] * k[o + j * D + c];
          }
          a[i][j] = s / Math.sqrt(D);
          max = Math.max(max, a[i][j]);
        }
        double z = 0;
        for (int j = 0; j < N; j++) {
          a[i][j] = Math.exp(a[i][j] - max);
          z += a[i][j];
        }
        for (int j = 0; j < N; j++) {
          a[i][j] /= z;
        }
      }
      double[][] av = new double[N][D];
      for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++) {
          for (int c = 0; c < D; c++) {
            av[i][c] += a[i][j] * v[o + j * D + c];
          }
        }
      }
      for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++) {
          for (int c = 0; c < D; c++) {
            out[o + i * D + c] += a[i][j] * (2 * v[o + j * D + c] - av[j][c]);
          }
        }
      }
    }
    return out;
  }

  private static long count(Graph g, String op) {
    return g.nodes().stream().filter(n -> n.op().onnxType().equals(op)).count();
  }

  @Test
  void rewritesSoftmaxAttentionIntoTwicingWithTheSameA() {
    for (boolean passThrough : new boolean[] {false, true}) {
      Graph g = attention(-1, passThrough);
      TwicingRewrite.Result r = TwicingRewrite.rewrite(g);
      assertEquals(1, r.sites());
      assertEquals(OptionalLong.of(H), r.heads(), "heads read from A's shape [B, H, N, N]");
      assertEquals("rewrote 1 softmax attention site (3 heads) into twicing", r.summary());
      Graph tw = r.graph();
      assertEquals(1, count(tw, "Softmax"), "one Softmax serves both products");
      assertEquals(3, count(tw, "MatMul"), "Q·Kᵀ, A·V and A·(2V − A·V)");
      for (Node n : tw.nodes()) {
        if (n.op().onnxType().equals("MatMul") && n.input(1) == n.input(0)) {
          throw new AssertionError("A² formed by " + n);
        }
      }
      Node last = tw.outputs().get("y").producer();
      while (!last.op().onnxType().equals("MatMul")) {
        last = last.input(0).producer();
      }
      Value a = last.input(0);
      Value shared = a;
      assertTrue(shared != null, "A·V with V the input");
      assertEquals(2, tw.nodes().stream()
          .filter(n -> n.op().onnxType().equals("MatMul") && n.input(0) == shared).count(),
          "both products use the very same A value");
      assertEquals(List.copyOf(g.outputs().keySet()), List.copyOf(tw.outputs().keySet()));
      assertTrue(tw.metadata().get(TwicingRewrite.METADATA_KEY).contains("1 softmax attention site"));
      Map<String, Tensor> f = feeds(7);
      double[] expected = twicingReference(f);
      double[] actual = Evaluator.run(tw, f).get("y").toDoubles();
      double worst = 0;
      for (int i = 0; i < expected.length; i++) {
        worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
      }
      assertTrue(worst < 1e-12, "twicing output differs from plain-Java A(2V − AV) by " + worst);
      double[] before = Evaluator.run(g, f).get("y").toDoubles();
      double diff = 0;
      for (int i = 0; i < before.length; i++) {
        diff = Math.max(diff, Math.abs(before[i] - actual[i]));
      }
      assertTrue(diff > 1e-3, "the rewrite changed the output (softmax and twicing differ)");
    }
  }

  @Test
  void keepsTheOneDropoutMask() {
    GraphBuilder g = new GraphBuilder("drop");
    TensorType t = TensorType.of(DType.FLOAT32, 2, 4, 6, 8);
    Value s = g.input("scores", TensorType.of(DType.FLOAT32, 2, 4, 6, 6));
    Value v = g.input("v", t);
    Value a = dropout(softmax(s, 3), 0.1, 5).get(0);
    g.output("y", matmul(a, v));
    TwicingRewrite.Result r = TwicingRewrite.rewrite(g.build());
    assertEquals(OptionalLong.of(4), r.heads());
    assertEquals(1, count(r.graph(), "Dropout"), "one dropout mask");
    Value dropped = r.graph().nodes().stream().filter(n -> n.op().onnxType().equals("Dropout")).findFirst()
        .orElseThrow().output(0);
    assertEquals(2, r.graph().nodes().stream().filter(n -> n.op().onnxType().equals("MatMul")
        && n.input(0) == dropped).count(), "both products take the dropped-out A");
  }

  @Test
  void aGraphWithoutAttentionIsAClearError() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> TwicingRewrite.rewrite(attention(2, false)));
    assertTrue(e.getMessage().contains("graph 'attn' has no softmax attention"), e.getMessage());
    assertEquals(0, TwicingRewrite.apply(attention(2, false), TwicingRewrite.Mode.SOFTMAX).sites(),
        "softmax mode leaves any graph alone");
  }

  @Test
  void refusesAGraphThatIsAlreadyTwicing() {
    Graph once = TwicingRewrite.rewrite(attention(-1, false)).graph();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TwicingRewrite.rewrite(once));
    assertTrue(e.getMessage().contains("Softmax node 'blocks.0.attn/Softmax'")
        && e.getMessage().contains("left operand of 2 MatMul nodes"), e.getMessage());
  }

  @Test
  void headCountIsUnknownWhenTheShapeDoesNotTellIt() {
    GraphBuilder g = new GraphBuilder("flat");
    Value s = g.input("scores", TensorType.of(DType.FLOAT32, "bh", 6, 6));
    Value v = g.input("v", TensorType.of(DType.FLOAT32, "bh", 6, 8));
    g.output("y", matmul(softmax(s, -1), v));
    TwicingRewrite.Result r = TwicingRewrite.rewrite(g.build());
    assertEquals(1, r.sites());
    assertFalse(r.heads().isPresent());
    assertEquals("rewrote 1 softmax attention site into twicing", r.summary());
  }

  @Test
  void parsesTheAttentionFlag() {
    assertEquals(TwicingRewrite.Mode.TWICING, TwicingRewrite.Mode.parse("twicing"));
    assertEquals(TwicingRewrite.Mode.SOFTMAX, TwicingRewrite.Mode.parse("softmax"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> TwicingRewrite.Mode.parse("twicing3"));
    assertTrue(e.getMessage().contains("'twicing3'") && e.getMessage().contains("expected softmax"));
  }
}

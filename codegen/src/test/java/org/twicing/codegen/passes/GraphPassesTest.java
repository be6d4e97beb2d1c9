package org.twicing.codegen.passes;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.twicing.dsl.ops.Ops.*;

import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.twicing.dsl.eval.Evaluator;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/** Folding, CSE and DCE shrink graphs without changing what they compute. */
class GraphPassesTest {
  private static long count(Graph g, String op) {
    return g.nodes().stream().filter(n -> n.op().onnxType().equals(op)).count();
  }

  @Test
  void passesKeepSemanticsAndRemoveRedundancy() {
    GraphBuilder g = new GraphBuilder("p");
    Value x = g.input("x", TensorType.of(DType.FLOAT64, "batch", 3));
    // Foldable: (2 * 3) computed from constants; duplicated: exp(x) twice; dead: tanh(x) unused.
    Value six = mul(scalarLike(x, 2.0), scalarLike(x, 3.0));
    Value e1 = exp(x);
    Value e2 = exp(x);
    tanh(x);
    g.output("y", mul(add(e1, e2), six));
    Graph raw = g.build();
    Graph opt = GraphPasses.optimize(raw);
    assertEquals(2, count(raw, "Exp"));
    assertEquals(1, count(opt, "Exp"), "CSE merges the two Exp nodes");
    assertEquals(0, count(opt, "Tanh"), "DCE removes the unused Tanh");
    assertEquals(1, count(opt, "Mul"), "folding leaves only the data-dependent Mul");
    Tensor in = Tensor.randn(DType.FLOAT64, new Random(1), 1.0, 4, 3);
    double[] a = Evaluator.run(raw, Map.of("x", in)).get("y").toDoubles();
    double[] b = Evaluator.run(opt, Map.of("x", in)).get("y").toDoubles();
    assertArrayEquals(a, b, 0.0);
    for (int i = 0; i < a.length; i++) {
      assertEquals(12 * Math.exp(in.get(i)), a[i], 1e-12);
    }
  }

  @Test
  void constantsWhoseHashesCollideAreNotMerged() {
    // Double.hashCode is (high word ^ low word): these two differ yet hash alike, and so do their arrays.
    double one = 1.0;
    double other = Double.longBitsToDouble(0x3FF0000100000001L);
    assertEquals(Double.hashCode(one), Double.hashCode(other));
    assertTrue(one != other);
    GraphBuilder g = new GraphBuilder("c");
    Value x = g.input("x", TensorType.of(DType.FLOAT64, 1));
    Value a = add(x, g.constant(new Tensor(DType.FLOAT64, new long[] {1}, new double[] {one})));
    Value b = add(x, g.constant(new Tensor(DType.FLOAT64, new long[] {1}, new double[] {other})));
    g.output("a", a);
    g.output("b", b);
    Graph opt = GraphPasses.eliminateCommonSubexpressions(g.build());
    Map<String, Tensor> out = Evaluator.run(opt, Map.of("x", new Tensor(DType.FLOAT64, new long[] {1},
        new double[] {0})));
    assertEquals(one, out.get("a").get(0), 0.0);
    assertEquals(other, out.get("b").get(0), 0.0, "the second constant kept its own value");
  }

  @Test
  void producersFollowTheRewrittenNodes() {
    GraphBuilder g = new GraphBuilder("p");
    Value x = g.input("x", TensorType.of(DType.FLOAT64, 3));
    Value e1 = exp(x);
    Value e2 = exp(x);
    Value y = add(tanh(e1), sigmoid(e2));
    g.output("y", y);
    Graph raw = g.build();
    Graph opt = GraphPasses.eliminateCommonSubexpressions(raw);
    // CSE merged the two Exp nodes, so the Sigmoid was rewritten to read e1: its output's producer is the new
    // node of the new graph, while the old graph still answers with its own node.
    Value t2 = raw.producer(y).input(1);
    assertTrue(opt.nodes().contains(t2.producer()), "producer() names a node of the rewritten graph");
    assertTrue(t2.producer().input(0) == e1, "and that node reads the merged value");
    assertTrue(opt.producer(t2) == t2.producer());
    assertTrue(raw.producer(t2).input(0) == e2, "the old graph keeps its own node");
    assertTrue(opt.producer(x) == null, "inputs have no producer");
  }

  @Test
  void randomOpsAreNeitherMergedNorFolded() {
    GraphBuilder g = new GraphBuilder("d");
    Value x = g.input("x", TensorType.of(DType.FLOAT32, 8));
    Value a = dropout(x, 0.5, 1).get(0);
    Value b = dropout(x, 0.5, 1).get(0);
    g.output("y", add(a, b));
    Graph opt = GraphPasses.optimize(g.build());
    assertEquals(2, count(opt, "Dropout"));
    assertTrue(opt.nodes().stream().filter(n -> n.op().onnxType().equals("Dropout"))
        .allMatch(n -> n.attributes().entries().containsKey("seed")), "dropout masks are seeded");
  }
}

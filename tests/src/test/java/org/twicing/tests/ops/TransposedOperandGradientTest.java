package org.twicing.tests.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.twicing.dsl.ops.Ops.matmul;
import static org.twicing.dsl.ops.Ops.mul;
import static org.twicing.dsl.ops.Ops.reduceSum;
import static org.twicing.dsl.ops.Ops.swapLast;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.twicing.codegen.autodiff.Autodiff;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.NodeProto;
import org.twicing.codegen.passes.GraphPasses;
import org.twicing.dsl.eval.Evaluator;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;
import org.twicing.tests.support.OrtRunner;

/**
 * The gradient of a transposed MatMul operand (Kᵀ in attention scores) is built as {@code dYᵀ A} rather than as a
 * Transpose of {@code Aᵀ dY}: it matches plain float64 matrix algebra, ONNX Runtime agrees, and the emitted graph
 * transposes no MatMul product.
 */
class TransposedOperandGradientTest {
  private static final int B = 2;
  private static final int N = 5;
  private static final int M = 4;
  private static final int D = 3;

  @Test
  void gradientOfTransposedOperandIsDyTransposedTimesA() {
    Random rng = new Random(11);
    GraphBuilder g = new GraphBuilder("scores");
    Value a = g.input("a", TensorType.of(DType.FLOAT32, B, N, D));
    Value k = g.input("k", TensorType.of(DType.FLOAT32, B, M, D));
    Tensor c = Tensor.randn(DType.FLOAT32, rng, 1.0, B, N, M);
    Value loss = reduceSum(mul(matmul(a, swapLast(k)), g.parameter("c", c)), false);
    Map<Value, Value> grads = Autodiff.gradients(loss, List.of(a, k));
    g.output("a.grad", grads.get(a));
    g.output("k.grad", grads.get(k));
    Graph graph = GraphPasses.optimize(g.build());
    Tensor at = Tensor.randn(DType.FLOAT32, rng, 1.0, B, N, D);
    Tensor kt = Tensor.randn(DType.FLOAT32, rng, 1.0, B, M, D);
    Map<String, Tensor> feeds = Map.of("a", at, "k", kt);
    double[] dk = Evaluator.runFloat64(graph, feeds).get("k.grad").toDoubles();
    double[] da = Evaluator.runFloat64(graph, feeds).get("a.grad").toDoubles();
    // loss = sum_{b,i,j} c[b,i,j] (a[b,i,:] . k[b,j,:]): dk[b,j,d] = sum_i c[b,i,j] a[b,i,d], da = c k.
    double[] av = at.toDoubles();
    double[] kv = kt.toDoubles();
    double[] cv = c.toDoubles();
    for (int b = 0; b < B; b++) {
      for (int j = 0; j < M; j++) {
        for (int d = 0; d < D; d++) {
          double s = 0;
          for (int i = 0; i < N; i++) {
            s += cv[(b * N + i) * M + j] * av[(b * N + i) * D + d];
          }
          assertEquals(s, dk[(b * M + j) * D + d], 1e-12, "k.grad[" + b + "," + j + "," + d + "]");
        }
      }
      for (int i = 0; i < N; i++) {
        for (int d = 0; d < D; d++) {
          double s = 0;
          for (int j = 0; j < M; j++) {
            s += cv[(b * N + i) * M + j] * kv[(b * M + j) * D + d];
          }
          assertEquals(s, da[(b * N + i) * D + d], 1e-12, "a.grad[" + b + "," + i + "," + d + "]");
        }
      }
    }
    ModelProto m = OnnxEmitter.emit(graph, EmitOptions.defaults());
    Set<String> products = new HashSet<>();
    for (NodeProto n : m.getGraph().getNodeList()) {
      if (n.getOpType().equals("MatMul")) {
        products.addAll(n.getOutputList());
      }
    }
    for (NodeProto n : m.getGraph().getNodeList()) {
      assertTrue(!n.getOpType().equals("Transpose") || !products.contains(n.getInput(0)),
          "no MatMul product is transposed: " + n);
    }
    double[] got = OrtRunner.run(m.toByteArray(), feeds).get("k.grad").toDoubles();
    for (int i = 0; i < dk.length; i++) {
      assertEquals(dk[i], got[i], 1e-5, "ONNX Runtime k.grad[" + i + "]");
    }
  }
}

package org.twicing.tests.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.twicing.dsl.ops.Ops.layerNorm;
import static org.twicing.dsl.ops.Ops.mul;
import static org.twicing.dsl.ops.Ops.reduceSum;

import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.twicing.codegen.autodiff.Autodiff;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.NodeProto;
import org.twicing.dsl.eval.Evaluator;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;
import org.twicing.tests.support.OnnxChecker;
import org.twicing.tests.support.OrtRunner;

/**
 * LayerNormalization's two lowerings (the default primitive ops, and the single ONNX op kept with
 * {@code keepFusedOps}) compute the same values and gradients in ONNX Runtime as the float64 evaluator, and the
 * backward reads the forward's Mean and InvStdDev instead of recomputing them.
 */
class LayerNormLoweringTest {

  private static Graph graph(Random rng, boolean withGrads) {
    GraphBuilder g = new GraphBuilder("ln");
    Value x = g.input("x", TensorType.of(DType.FLOAT32, 3, 5, 8));
    Value w = g.parameter("ln.weight", Tensor.randn(DType.FLOAT32, rng, 1.0, 8));
    Value b = g.parameter("ln.bias", Tensor.randn(DType.FLOAT32, rng, 1.0, 8));
    Value y = layerNorm(x, w, b, -1, 1e-5);
    g.output("y", y);
    if (withGrads) {
      // A loss that weighs every output differently, so every gradient term matters.
      Value c = g.parameter("c", Tensor.randn(DType.FLOAT32, rng, 1.0, 3, 5, 8));
      Value loss = reduceSum(mul(y, c), false);
      Map<Value, Value> grads = Autodiff.gradients(loss, List.of(x, w, b));
      g.output("x.grad", grads.get(x));
      g.output("ln.weight.grad", grads.get(w));
      g.output("ln.bias.grad", grads.get(b));
    }
    return g.build();
  }

  private static long count(ModelProto m, String op) {
    return m.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals(op)).count();
  }

  @Test
  void bothLoweringsMatchTheFloat64EvaluatorForwardAndBackward() {
    Random rng = new Random(5);
    Graph g = graph(rng, true);
    Tensor x = Tensor.randn(DType.FLOAT32, rng, 2.0, 3, 5, 8);
    Map<String, Tensor> reference = Evaluator.runFloat64(g, Map.of("x", x));
    for (boolean keep : new boolean[] {false, true}) {
      ModelProto m = OnnxEmitter.emit(g, EmitOptions.builder().keepFusedOps(keep).build());
      byte[] bytes = m.toByteArray();
      OnnxChecker.check(bytes);
      assertEquals(keep ? 1 : 0, count(m, "LayerNormalization"), "keepFusedOps=" + keep);
      if (keep) {
        NodeProto ln = m.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals("LayerNormalization"))
            .findFirst().orElseThrow();
        assertEquals(3, ln.getOutputCount(), "the backward reads Mean and InvStdDev");
        assertTrue(count(m, "ReduceMean") <= 2, "the statistics are not recomputed: " + count(m, "ReduceMean"));
      } else {
        assertTrue(count(m, "ReduceMean") >= 2 && count(m, "Sqrt") == 1, "primitive LayerNorm");
      }
      Map<String, Tensor> got = OrtRunner.run(bytes, Map.of("x", x));
      for (String name : List.of("y", "x.grad", "ln.weight.grad", "ln.bias.grad")) {
        double[] r = reference.get(name).toDoubles();
        double[] o = got.get(name).toDoubles();
        double scale = 0;
        for (double v : r) {
          scale = Math.max(scale, Math.abs(v));
        }
        for (int i = 0; i < r.length; i++) {
          assertEquals(r[i], o[i], 2e-5 * Math.max(1, scale), name + "[" + i + "] keepFusedOps=" + keep);
        }
      }
    }
  }

  @Test
  void inferenceGraphsKeepASingleOutputLayerNormalization() {
    ModelProto m = OnnxEmitter.emit(graph(new Random(6), false), EmitOptions.builder().keepFusedOps(true).build());
    NodeProto ln = m.getGraph().getNode(0);
    assertEquals("LayerNormalization", ln.getOpType());
    assertEquals(1, ln.getOutputCount(), "nothing reads Mean and InvStdDev, so they are left out");
  }
}

package org.twicing.tests.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.twicing.codegen.autodiff.Autodiff;
import org.twicing.codegen.passes.GraphPasses;
import org.twicing.dsl.eval.Evaluator;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.nn.Forward;
import org.twicing.dsl.nn.LayerNorm;
import org.twicing.dsl.nn.Linear;
import org.twicing.dsl.nn.Module;
import org.twicing.dsl.nn.Param;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.ops.Ops;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/**
 * A pre-norm block's LayerNorm handed over before its affine ({@link LayerNorm#normalize}) and folded into the
 * next Linear ({@link Linear#forward(Forward, LayerNorm.Normalized)}) computes, in float64, the same output and
 * the same gradients of x and of every parameter as LayerNormalization followed by the Linear, and both match
 * central differences of the loss.
 */
class LayerNormFoldTest {
  /** LayerNorm(6) then Linear(6 -> 5), with random (not identity) affine parameters. */
  static final class NormThenLinear extends Module {
    final LayerNorm norm = child("norm", new LayerNorm(6, 1e-5));
    final Linear fc = child("fc", new Linear(6, 5, true));
  }

  private static final NormThenLinear MODEL = new NormThenLinear();

  private static StateDict weights(Random rng) {
    StateDict w = StateDict.initialize(MODEL, 3);
    for (Param p : MODEL.parameters()) {
      w = w.with(p.name(), Tensor.randn(DType.FLOAT32, rng, 1.0, p.shape()));
    }
    return w;
  }

  /** Loss sum(y * c) and the gradients of x and of each parameter, folded or not. */
  private static Map<String, Tensor> run(boolean folded, StateDict w, Tensor x, Tensor c) {
    GraphBuilder g = new GraphBuilder(folded ? "folded" : "plain");
    Forward f = new Forward(g, w, true, 0);
    Value in = g.input("x", TensorType.of(DType.FLOAT32, 3, 4, 6));
    Value y = folded ? MODEL.fc.forward(f, MODEL.norm.normalize(f, in))
        : MODEL.fc.forward(f, MODEL.norm.forward(f, in));
    Value loss = Ops.reduceSum(Ops.mul(y, g.parameter("c", c)), false);
    List<Value> wrt = new ArrayList<>(List.of(in));
    MODEL.parameters().forEach(p -> wrt.add(f.param(p)));
    Map<Value, Value> grads = Autodiff.gradients(loss, wrt);
    g.output("loss", loss);
    grads.forEach((v, gv) -> g.output(v.name() + ".grad", gv));
    Graph graph = GraphPasses.optimize(g.build());
    return Evaluator.runFloat64(graph, Map.of("x", x));
  }

  @Test
  void foldedAndPlainAgreeAndMatchCentralDifferences() {
    Random rng = new Random(8);
    StateDict w = weights(rng);
    Tensor x = Tensor.randn(DType.FLOAT32, rng, 2.0, 3, 4, 6);
    Tensor c = Tensor.randn(DType.FLOAT32, rng, 1.0, 3, 4, 5);
    Map<String, Tensor> plain = run(false, w, x, c);
    Map<String, Tensor> folded = run(true, w, x, c);
    assertEquals(plain.keySet(), folded.keySet());
    for (String k : plain.keySet()) {
      double[] a = plain.get(k).toDoubles();
      double[] b = folded.get(k).toDoubles();
      for (int i = 0; i < a.length; i++) {
        assertEquals(a[i], b[i], 1e-10 * Math.max(1, Math.abs(a[i])), k + "[" + i + "]");
      }
    }
    // Central differences of the folded loss for the LayerNorm weight and bias (the folded path's own algebra).
    for (String name : List.of("norm.weight", "norm.bias")) {
      double[] g = folded.get(name + ".grad").toDoubles();
      for (int i = 0; i < g.length; i++) {
        double h = 1e-6;
        double fd = (loss(w, name, i, h, x, c) - loss(w, name, i, -h, x, c)) / (2 * h);
        assertEquals(fd, g[i], 1e-6 * Math.max(1, Math.abs(fd)), name + ".grad[" + i + "]");
      }
    }
  }

  private static double loss(StateDict w, String name, int i, double d, Tensor x, Tensor c) {
    Tensor t = w.get(name);
    Tensor.Builder b = Tensor.builder(DType.FLOAT32, t.shape());
    for (int k = 0; k < t.size(); k++) {
      b.set(k, t.get(k) + (k == i ? d : 0));
    }
    return run(true, w.with(name, b.build()), x, c).get("loss").toDoubles()[0];
  }
}

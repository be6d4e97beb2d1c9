package org.twicing.tests.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
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
import org.twicing.codegen.passes.GraphPasses;
import org.twicing.dsl.eval.Evaluator;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.nn.Mlp;
import org.twicing.dsl.ops.Ops;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;
import org.twicing.tests.support.OnnxChecker;
import org.twicing.tests.support.OrtRunner;

/**
 * {@link Ops#withGradient} markers and the hand-written GELU backward they carry: the gradient matches central
 * finite differences of the float64 forward, ONNX Runtime agrees with the float64 evaluator, the emitted backward
 * reuses the forward's Erf, and no marker survives the graph passes.
 */
class CustomGradientTest {
  private static final int N = 64;

  /** loss = sum(gelu(x) * c), with its x-gradient when {@code grads}. */
  private static Graph geluGraph(Tensor c, boolean grads) {
    GraphBuilder g = new GraphBuilder("gelu");
    Value x = g.input("x", TensorType.of(DType.FLOAT32, N));
    Value y = Mlp.gelu(x);
    Value loss = reduceSum(mul(y, g.parameter("c", c)), false);
    g.output("loss", loss);
    if (grads) {
      g.output("x.grad", Autodiff.gradients(loss, List.of(x)).get(x));
    }
    return GraphPasses.optimize(g.build());
  }

  private static Tensor inputs() {
    // Both tails (where e^(s^2) overflows in float32 and the Gaussian term must vanish) and the centre.
    double[] v = new double[N];
    for (int i = 0; i < N; i++) {
      v[i] = -15 + 30.0 * i / (N - 1);
    }
    v[N / 2] = 0;
    v[N / 2 + 1] = 1e-3;
    return floats(v);
  }

  /** A float32-typed tensor holding {@code v} exactly (the float64 evaluator does not round it). */
  private static Tensor floats(double[] v) {
    Tensor.Builder b = Tensor.builder(DType.FLOAT32, v.length);
    for (int i = 0; i < v.length; i++) {
      b.set(i, v[i]);
    }
    return b.build();
  }

  @Test
  void geluGradientMatchesCentralDifferencesOfTheForward() {
    Tensor c = Tensor.randn(DType.FLOAT32, new Random(2), 1.0, N);
    Tensor x = inputs();
    Graph withGrads = geluGraph(c, true);
    double[] grad = Evaluator.runFloat64(withGrads, Map.of("x", x)).get("x.grad").toDoubles();
    Graph forward = geluGraph(c, false);
    double[] xs = x.toDoubles();
    double h = 1e-6;
    for (int i = 0; i < N; i++) {
      double[] plus = xs.clone();
      double[] minus = xs.clone();
      plus[i] += h;
      minus[i] -= h;
      double fd = (loss(forward, plus) - loss(forward, minus)) / (2 * h);
      assertEquals(fd, grad[i], 1e-6 * Math.max(1, Math.abs(fd)), "d loss / d x[" + i + "] at x = " + xs[i]);
    }
  }

  private static double loss(Graph forward, double[] x) {
    Tensor t = floats(x);
    return Evaluator.runFloat64(forward, Map.of("x", t)).get("loss").toDoubles()[0];
  }

  @Test
  void emittedBackwardReusesTheForwardErfAndRunsInOnnxRuntime() {
    Tensor c = Tensor.randn(DType.FLOAT32, new Random(3), 1.0, N);
    Graph g = geluGraph(c, true);
    assertTrue(g.nodes().stream().noneMatch(n -> n.op().isPassThrough()), "markers are removed by the passes");
    ModelProto m = OnnxEmitter.emit(g, EmitOptions.defaults());
    byte[] bytes = m.toByteArray();
    OnnxChecker.check(bytes);
    assertEquals(1, m.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals("Erf")).count(),
        "the backward reads t = 1 + erf(s) from the forward");
    assertEquals(0, m.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals("Identity")).count(),
        "neither markers nor output renames are emitted as Identity");
    Tensor x = inputs();
    Map<String, Tensor> reference = Evaluator.runFloat64(g, Map.of("x", x));
    Map<String, Tensor> got = OrtRunner.run(bytes, Map.of("x", x));
    double[] r = reference.get("x.grad").toDoubles();
    double[] o = got.get("x.grad").toDoubles();
    for (int i = 0; i < N; i++) {
      assertEquals(r[i], o[i], 1e-5 * Math.max(1, Math.abs(r[i])), "x.grad[" + i + "]");
      assertTrue(Double.isFinite(o[i]), "x.grad[" + i + "] is finite where e^(s^2) overflows");
    }
  }

  @Test
  void aMarkerIsItsValueAndARuleWithTheWrongArityIsNamed() {
    GraphBuilder g = new GraphBuilder("marker");
    Value x = g.input("x", TensorType.of(DType.FLOAT32, 3));
    Value y = Ops.withGradient("broken", Ops.exp(x), List.of(x), dy -> List.of(dy, dy));
    g.output("y", y);
    Tensor in = floats(new double[] {0, 1, 2});
    double[] out = Evaluator.runFloat64(g.build(), Map.of("x", in)).get("y").toDoubles();
    assertEquals(Math.exp(2), out[2], 1e-12);
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> Autodiff.gradients(reduceSum(y, false), List.of(x)));
    assertTrue(e.getMessage().contains("broken") && e.getMessage().contains("2 gradients for 1"), e.getMessage());
    // After the passes the marker is gone and the output is written by Exp itself, under the output's name.
    ModelProto m = OnnxEmitter.emit(GraphPasses.optimize(g.build()), EmitOptions.defaults());
    OnnxChecker.check(m.toByteArray());
    assertEquals(1, m.getGraph().getNodeCount(), m.getGraph().getNodeList().toString());
    assertEquals("Exp", m.getGraph().getNode(0).getOpType());
    assertEquals("y", m.getGraph().getNode(0).getOutput(0));
  }
}

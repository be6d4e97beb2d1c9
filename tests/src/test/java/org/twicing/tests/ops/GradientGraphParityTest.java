package org.twicing.tests.ops;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.twicing.codegen.autodiff.Autodiff;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.dsl.eval.Evaluator;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.ops.Ops;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;
import org.twicing.tests.support.OnnxChecker;
import org.twicing.tests.support.OrtRunner;
import org.twicing.tests.support.Tolerance;

/**
 * The gradient graphs that autodiff builds from the new ops' rules (finite-difference checked in dsl's
 * GradientRuleTest) are valid ONNX and run in ONNX Runtime: for L = sum(y * r), the emitted forward-and-gradient
 * graph passes the official checker and ONNX Runtime's float32 results equal the float64 reference evaluator's
 * (relative error at most {@value #TOL}). This catches rules that build graphs ONNX or ONNX Runtime refuse (e.g.
 * Einsum equations with the spare letters that stand for ellipsis dims).
 */
class GradientGraphParityTest {
  /** ONNX Runtime (float32) against the float64 evaluator. */
  static final double TOL = 1e-4;

  /** One case: a name, input shapes, and the op applied to the inputs (all differentiated). */
  record Case(String name, Map<String, long[]> inputs, Function<Map<String, Value>, List<Value>> body) { }

  private static Map<String, long[]> in(Object... nameThenShape) {
    Map<String, long[]> m = new LinkedHashMap<>();
    for (int i = 0; i < nameThenShape.length; i += 2) {
      m.put((String) nameThenShape[i], (long[]) nameThenShape[i + 1]);
    }
    return m;
  }

  private static long[] s(long... v) {
    return v;
  }

  private static Function<Map<String, Value>, List<Value>> one(Function<Map<String, Value>, Value> f) {
    return v -> List.of(f.apply(v));
  }

  static List<Case> cases() {
    List<Case> cs = new ArrayList<>();
    cs.add(new Case("Gelu exact", in("x", s(3, 4)), one(v -> Ops.gelu(v.get("x"), false))));
    cs.add(new Case("Gelu tanh", in("x", s(3, 4)), one(v -> Ops.gelu(v.get("x"), true))));
    cs.add(new Case("Min broadcast", in("a", s(2, 3), "b", s(3)), one(v -> Ops.min(v.get("a"), v.get("b")))));
    cs.add(new Case("Max of three", in("a", s(2, 3), "b", s(3), "c", s(2, 1)),
        one(v -> Ops.max(v.get("a"), v.get("b"), v.get("c")))));
    cs.add(new Case("Clip with both bounds", in("x", s(4, 5), "lo", s(), "hi", s()), one(v -> Ops.clip(v.get("x"),
        Ops.sub(v.get("lo"), Ops.scalarLike(v.get("lo"), 1.0)), Ops.add(v.get("hi"), Ops.scalarLike(v.get("hi"),
            1.0))))));
    cs.add(new Case("Abs", in("x", s(3, 4)), one(v -> Ops.abs(v.get("x")))));
    cs.add(new Case("Floor and Ceil", in("x", s(3, 4)), v -> List.of(Ops.floor(v.get("x")),
        Ops.ceil(v.get("x")))));
    cs.add(new Case("Sin and Cos", in("x", s(3, 4)), v -> List.of(Ops.sin(v.get("x")), Ops.cos(v.get("x")))));
    cs.add(new Case("Einsum bhid,bhjd->bhij", in("q", s(2, 2, 3, 4), "k", s(2, 2, 5, 4)),
        one(v -> Ops.einsum("bhid,bhjd->bhij", v.get("q"), v.get("k")))));
    cs.add(new Case("Einsum ...ij,jk->...ik", in("a", s(2, 3, 4), "b", s(4, 5)),
        one(v -> Ops.einsum("...ij,jk->...ik", v.get("a"), v.get("b")))));
    cs.add(new Case("Einsum ij,j-> and i,j->ij", in("a", s(3, 4), "b", s(4), "c", s(3)),
        v -> List.of(Ops.einsum("ij,j->", v.get("a"), v.get("b")), Ops.einsum("i,j->ij", v.get("c"), v.get("b")))));
    cs.add(new Case("Einsum ij,jk,kl->il", in("a", s(2, 3), "b", s(3, 4), "c", s(4, 2)),
        one(v -> Ops.einsum("ij,jk,kl->il", v.get("a"), v.get("b"), v.get("c")))));
    cs.add(new Case("ConvTranspose groups 2 bias", in("x", s(2, 4, 3, 3), "w", s(4, 3, 3, 3), "b", s(6)),
        one(v -> Ops.convTranspose(v.get("x"), v.get("w"), v.get("b"), s(2, 2), s(1, 1, 1, 1), s(1, 1), s(1, 1),
            2))));
    cs.add(new Case("GlobalAveragePool", in("x", s(2, 3, 4, 5)), one(v -> Ops.globalAveragePool(v.get("x")))));
    cs.add(new Case("BatchNormalization training, running statistics in the loss", in("x", s(3, 2, 2, 2),
        "scale", s(2), "bias", s(2), "mean", s(2), "var", s(2)), v -> {
          Value var = Ops.add(Ops.mul(v.get("var"), v.get("var")), Ops.scalarLike(v.get("var"), 0.5));
          return Ops.batchNormTraining(v.get("x"), v.get("scale"), v.get("bias"), v.get("mean"), var, 1e-5, 0.9);
        }));
    cs.add(new Case("ScatterElements add", in("data", s(6), "upd", s(5)), v -> List.of(Ops.scatterElements(
        v.get("data"), Ops.constantLike(v.get("data"), Tensor.longs(1, 4, 1, 0, 4)), v.get("upd"), 0, "add"))));
    cs.add(new Case("GatherElements and ScatterElements 2-D", in("data", s(3, 4), "upd", s(3, 2)), v -> {
      Value idx = Ops.constantLike(v.get("data"), Tensor.longs(0, 3, 3, 3, -1, 1).reshape(3, 2));
      return List.of(Ops.gatherElements(v.get("data"), idx, 1),
          Ops.scatterElements(v.get("data"), idx, v.get("upd"), 1, "add"));
    }));
    return cs;
  }

  /** One dynamic test per case. */
  @TestFactory
  Stream<DynamicTest> gradientGraphsRunInOnnxRuntime() {
    return cases().stream().map(c -> dynamicTest(c.name(), () -> {
      try {
        check(c);
      } catch (AssertionError | RuntimeException e) {
        throw new AssertionError("[" + c.name() + "] " + e.getMessage(), e);
      }
    }));
  }

  private static void check(Case c) {
    Random rng = new Random(c.name().hashCode());
    GraphBuilder g = new GraphBuilder("grad");
    Map<String, Value> vs = new LinkedHashMap<>();
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    c.inputs().forEach((n, shape) -> {
      Object[] dims = new Object[shape.length];
      for (int i = 0; i < dims.length; i++) {
        dims[i] = shape[i];
      }
      vs.put(n, g.input(n, TensorType.of(DType.FLOAT32, dims)));
      feeds.put(n, Tensor.randn(DType.FLOAT32, rng, 1.5, shape));
    });
    List<Value> ys = c.body().apply(vs);
    Value loss = null;
    for (int k = 0; k < ys.size(); k++) {
      Value r = g.constant(Tensor.randn(DType.FLOAT32, rng, 1, ys.get(k).shape().sizes()));
      Value term = Ops.reduceSum(Ops.mul(ys.get(k), r), false);
      loss = loss == null ? term : Ops.add(loss, term);
    }
    List<Value> wrt = new ArrayList<>(vs.values());
    Map<Value, Value> grads = Autodiff.gradients(loss, wrt);
    g.output("loss", loss);
    for (String n : vs.keySet()) {
      g.output("d_" + n, grads.get(vs.get(n)));
    }
    Graph graph = g.build();
    byte[] bytes = OnnxEmitter.emit(graph, EmitOptions.defaults()).toByteArray();
    OnnxChecker.check(bytes);
    Map<String, Tensor> ort = OrtRunner.run(bytes, feeds);
    Map<String, Tensor> ref = Evaluator.run(graph, feeds);
    for (String o : graph.outputs().keySet()) {
      assertNotNull(ort.get(o), "ONNX Runtime gave no " + o);
      Tolerance.assertRelErr(ort.get(o), ref.get(o), TOL, o + " (ONNX Runtime vs float64 evaluator)");
    }
  }
}

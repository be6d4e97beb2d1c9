package org.twicing.codegen.importer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.twicing.codegen.importer.Protos.floats;
import static org.twicing.codegen.importer.Protos.info;
import static org.twicing.codegen.importer.Protos.model;
import static org.twicing.codegen.importer.Protos.node;
import static org.twicing.codegen.importer.Protos.tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.twicing.codegen.autodiff.Autodiff;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.NodeProto;
import org.twicing.codegen.passes.GraphPasses;
import org.twicing.dsl.eval.Evaluator;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.nn.Forward;
import org.twicing.dsl.ops.Ops;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;

/**
 * Exact GELU written as primitives in an imported graph (torch.onnx's order and ours) is found, a look-alike with
 * a different constant is not, and a matched model's gradient still equals central differences of its float64
 * forward while its backward no longer has the chain rule's Neg.
 */
class GeluPatternTest {
  private static final float[] W = {0.5f, -1.2f, 0.3f, 2.0f, -0.7f, 0.9f, 1.5f, -0.1f, 0.4f, -2.2f, 0.8f, 0.05f};

  private static NodeProto constant(String name, float v) {
    return node("Constant", name, List.of(), List.of(name), tensor("value", floats("", new long[] {}, v)));
  }

  /** x [batch, 3] -> h = x w [batch, 4] -> gelu(h) as torch.onnx writes it (or in {@code ours} order). */
  static ModelProto gelu(boolean ours, float one) {
    List<NodeProto> nodes = new ArrayList<>(List.of(node("MatMul", "mm", List.of("x", "w"), List.of("h")),
        constant("sqrt2", 1.4142135f), constant("one", one), constant("half", 0.5f),
        node("Div", "div", List.of("h", "sqrt2"), List.of("s")), node("Erf", "erf", List.of("s"), List.of("e")),
        node("Add", "add", List.of("e", "one"), List.of("t"))));
    if (ours) {
      nodes.add(node("Mul", "m1", List.of("h", "half"), List.of("a")));
      nodes.add(node("Mul", "m2", List.of("a", "t"), List.of("logits")));
    } else {
      nodes.add(node("Mul", "m1", List.of("h", "t"), List.of("p")));
      nodes.add(node("Mul", "m2", List.of("p", "half"), List.of("logits")));
    }
    return model(17, nodes, List.of(info("x", 1, "batch", 3L)), List.of(info("logits", 1)),
        List.of(floats("w", new long[] {3, 4}, W)));
  }

  private static ForeignModel wrap(ModelProto m) {
    return ForeignModel.of(OnnxImporter.fromProto(m, null), "gelu.onnx", ForeignModel.Options.defaults(), Map.of());
  }

  @Test
  void findsBothOrdersAndNotALookAlike() {
    assertEquals(1, GeluPattern.find(wrap(gelu(false, 1f)).graph()).size(), "torch.onnx's order");
    assertEquals(1, GeluPattern.find(wrap(gelu(true, 1f)).graph()).size(), "Mlp.gelu's order");
    assertEquals(0, GeluPattern.find(wrap(gelu(false, 2f)).graph()).size(), "1 + erf is required");
  }

  @Test
  void matchedGeluKeepsItsGradientAndDropsTheChainRulesPasses() {
    for (boolean ours : new boolean[] {false, true}) {
      ForeignModel model = wrap(gelu(ours, 1f));
      Tensor x = Tensor.randn(DType.FLOAT32, new Random(4), 1.5, 5, 3);
      Tensor c = Tensor.randn(DType.FLOAT32, new Random(5), 1.0, 5, 4);
      GraphBuilder g = new GraphBuilder("gelu_grads");
      Forward f = new Forward(g, model.weights(), true, 0);
      Value in = g.input("x", model.inputType());
      Value loss = Ops.reduceSum(Ops.mul(model.logits(f, in), g.parameter("c", c)), false);
      Value w = f.param(model.parameters().get(0));
      g.output("loss", loss);
      g.output("w.grad", Autodiff.gradients(loss, List.of(w)).get(w));
      Graph graph = GraphPasses.optimize(g.build());
      assertTrue(graph.nodes().stream().noneMatch(n -> n.op().onnxType().equals("Neg")),
          "the hand-written backward has no Neg (ours=" + ours + ")");
      double[] grad = Evaluator.runFloat64(graph, Map.of("x", x)).get("w.grad").toDoubles();
      double h = 1e-6;
      for (int i = 0; i < W.length; i++) {
        double fd = (loss(model, x, c, i, h) - loss(model, x, c, i, -h)) / (2 * h);
        assertEquals(fd, grad[i], 1e-6 * Math.max(1, Math.abs(fd)), "w.grad[" + i + "] ours=" + ours);
      }
    }
  }

  /** The float64 loss with weight {@code i} moved by {@code d}. */
  private static double loss(ForeignModel model, Tensor x, Tensor c, int i, double d) {
    GraphBuilder g = new GraphBuilder("gelu_loss");
    Tensor.Builder wb = Tensor.builder(DType.FLOAT32, 3, 4);
    for (int k = 0; k < W.length; k++) {
      wb.set(k, W[k] + (k == i ? d : 0));
    }
    Value in = g.input("x", model.inputType());
    Value w = g.parameter("w", wb.build());
    Value loss = Ops.reduceSum(Ops.mul(gelu(Ops.matmul(in, w)), g.parameter("c", c)), false);
    g.output("loss", loss);
    return Evaluator.runFloat64(g.build(), Map.of("x", x)).get("loss").toDoubles()[0];
  }

  /** Exact GELU from its definition, x (1 + erf(x / sqrt 2)) / 2, built from primitives. */
  private static Value gelu(Value h) {
    Value t = Ops.add(Ops.erf(Ops.div(h, Ops.scalarLike(h, Math.sqrt(2)))), Ops.scalarLike(h, 1.0));
    return Ops.mul(Ops.mul(h, t), Ops.scalarLike(h, 0.5));
  }
}

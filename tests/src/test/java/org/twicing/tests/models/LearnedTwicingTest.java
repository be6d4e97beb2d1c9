package org.twicing.tests.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.twicing.dsl.ops.Ops.mul;
import static org.twicing.dsl.ops.Ops.reduceSum;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.twicing.codegen.autodiff.Autodiff;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.eval.Evaluator;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.nn.Attention;
import org.twicing.dsl.nn.AttentionKind;
import org.twicing.dsl.nn.Forward;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;
import org.twicing.models.zoo.PresetOptions;
import org.twicing.models.zoo.Zoo;
import org.twicing.tests.support.OnnxChecker;
import org.twicing.tests.support.Tolerance;

/**
 * Twicing with a learnable per-head weight on the correction term: λ = 1 is twicing, λ = 0 is softmax attention,
 * and the gradient with respect to λ matches finite differences.
 */
class LearnedTwicingTest {
  static final int N = 6;
  static final int DIM = 8;
  static final int HEADS = 2;
  static final Tensor X = Tensor.randn(DType.FLOAT64, new Random(3), 1.0, 2, N, DIM);

  private static Attention layer(AttentionKind kind) {
    return new Attention(Attention.Spec.builder(DIM, HEADS).kind(kind).causal(true).maxLen(N).build());
  }

  /** Output of an attention layer of {@code kind} on {@link #X} with {@code weights}, in exact float64. */
  private static double[] run(AttentionKind kind, Map<String, Tensor> weights) {
    Attention attn = layer(kind);
    GraphBuilder g = new GraphBuilder("a");
    Value x = g.input("x", TensorType.of(DType.FLOAT32, "batch", N, DIM));
    g.output("y", attn.forward(new Forward(g, StateDict.load(attn, weights, "test"), false, 0), x, null));
    return Evaluator.runFloat64(g.build(), Map.of("x", X.cast(DType.FLOAT32))).get("y").toDoubles();
  }

  private static Map<String, Tensor> withLambda(Map<String, Tensor> learned, double... lambda) {
    Map<String, Tensor> m = new LinkedHashMap<>(learned);
    m.put("twicing_weight", new Tensor(DType.FLOAT32, new long[] {HEADS, 1, 1}, lambda));
    return m;
  }

  @Test
  void endpointsAreTwicingAndSoftmax() {
    Map<String, Tensor> learned = StateDict.initialize(layer(AttentionKind.TWICING_LEARNED), 5).asMap();
    assertEquals(List.of(1.0, 1.0), List.of(learned.get("twicing_weight").get(0), learned.get("twicing_weight").get(1)),
        "starts as plain twicing");
    Map<String, Tensor> shared = new LinkedHashMap<>(learned);
    shared.remove("twicing_weight");
    double[] twicing = run(AttentionKind.TWICING, shared);
    double[] softmax = run(AttentionKind.SOFTMAX, shared);
    assertTrue(Tolerance.relErr(run(AttentionKind.TWICING_LEARNED, withLambda(learned, 1, 1)), twicing) < 1e-12);
    assertTrue(Tolerance.relErr(run(AttentionKind.TWICING_LEARNED, withLambda(learned, 0, 0)), softmax) < 1e-12);
    assertTrue(Tolerance.relErr(twicing, softmax) > 1e-3, "the two endpoints differ");
  }

  @Test
  void gradientOfTheWeightMatchesFiniteDifferences() {
    Attention attn = layer(AttentionKind.TWICING_LEARNED);
    Map<String, Tensor> w = withLambda(StateDict.initialize(attn, 5).asMap(), 0.7, 1.3);
    GraphBuilder g = new GraphBuilder("grad");
    Value x = g.input("x", TensorType.of(DType.FLOAT32, "batch", N, DIM));
    Forward f = new Forward(g, StateDict.load(attn, w, "test"), false, 0);
    Value y = attn.forward(f, x, null);
    Tensor r = Tensor.randn(DType.FLOAT32, new Random(8), 1.0, 2, N, DIM);
    Value loss = reduceSum(mul(y, g.constant(r)), false);
    Value lambda = g.find("twicing_weight");
    g.output("loss", loss);
    g.output("dlambda", Autodiff.gradients(loss, List.of(lambda)).get(lambda));
    Graph graph = g.build();
    Map<String, Tensor> feeds = Map.of("x", X.cast(DType.FLOAT32));
    double[] grad = Evaluator.runFloat64(graph, feeds).get("dlambda").toDoubles();
    for (int h = 0; h < HEADS; h++) {
      double eps = 1e-6;
      double[] up = w.get("twicing_weight").toDoubles();
      double[] down = up.clone();
      up[h] += eps;
      down[h] -= eps;
      Map<String, Tensor> fu = new LinkedHashMap<>(feeds);
      fu.put("twicing_weight", new Tensor(DType.FLOAT32, new long[] {HEADS, 1, 1}, up));
      Map<String, Tensor> fd = new LinkedHashMap<>(feeds);
      fd.put("twicing_weight", new Tensor(DType.FLOAT32, new long[] {HEADS, 1, 1}, down));
      double numeric = (Evaluator.runFloat64(graph, fu).get("loss").get(0)
          - Evaluator.runFloat64(graph, fd).get("loss").get(0)) / (2 * eps);
      assertEquals(numeric, grad[h], 1e-6 * Math.max(1, Math.abs(numeric)), "head " + h);
    }
  }

  @Test
  void presetWithLearnedTwicingEmitsAndChecks() throws Exception {
    TaskModel lm = Zoo.build("lm-tiny", PresetOptions.defaults().withAttention("twicing-learned"));
    List<String> weights = lm.parameters().stream().map(p -> p.name()).filter(n -> n.endsWith("twicing_weight"))
        .toList();
    assertEquals(List.of("transformer.h.2.attn.twicing_weight", "transformer.h.3.attn.twicing_weight"), weights);
    assertTrue(lm.parameters().stream().filter(p -> p.name().endsWith("twicing_weight")).noneMatch(p -> p.decay()));
    Path dir = Files.createTempDirectory("learned");
    ModelArtifacts.writeAll(lm, StateDict.initialize(lm, 0), TrainingSpec.defaults(), dir,
        EmitOptions.defaults());
    for (String f : List.of("model.onnx", "grads.onnx", "train_step.onnx")) {
      OnnxChecker.check(Files.readAllBytes(dir.resolve(f)));
    }
    assertNotEquals(true, Files.exists(dir.resolve("decode.onnx")),
        "no exact cache for a learned weight: decode.onnx is skipped");
  }
}

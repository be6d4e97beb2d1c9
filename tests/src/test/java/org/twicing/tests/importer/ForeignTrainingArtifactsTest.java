package org.twicing.tests.importer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.codegen.importer.ForeignModel;
import org.twicing.codegen.importer.OnnxImporter;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.TensorProto;
import org.twicing.codegen.onnx.OnnxProtos.ValueInfoProto;
import org.twicing.codegen.train.CrossEntropy;
import org.twicing.codegen.train.Optimizer;
import org.twicing.codegen.train.TrainingGraphs;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.eval.Evaluator;
import org.twicing.dsl.nn.Param;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.tests.support.OnnxChecker;
import org.twicing.tests.support.OrtRunner;
import org.twicing.tests.support.Tolerance;

/**
 * Training artifacts of models exported by PyTorch ({@code emit --onnx}): every file passes the official ONNX
 * checker; the loss and the gradient of every initializer equal {@code torch.autograd} (float64 evaluation and
 * ONNX Runtime); one train_step equals one {@code torch.optim.AdamW} step with the presets' weight-decay rule.
 */
class ForeignTrainingArtifactsTest {
  /** AdamW as the reference script's: lr 1e-2 fed at run time, weight decay 0.05. */
  static final TrainingSpec ADAMW = new TrainingSpec(CrossEntropy.defaults(), new Optimizer.AdamW(0.9, 0.999, 1e-8,
      0.05), 0, 0);

  @TempDir
  Path tmp;

  static ForeignModel load(String model, int opset, ForeignModel.Options options) throws IOException {
    return ForeignModel.of(OnnxImporter.read(TorchExports.onnx(model, opset)), model, options, Map.of());
  }

  @ParameterizedTest(name = "{0} opset {1}")
  @CsvSource({"mlp, 17", "mlp, 13", "lm, 17", "lm, 13", "cnn, 17", "cnn, 13", "patch, 17", "patch, 13"})
  void artifactsPassTheCheckerAndMatchTorchAutogradAndAdamW(String name, int opset) throws IOException {
    Map<String, Tensor> ref = TorchExports.reference(name, opset);
    ForeignModel model = load(name, opset, ForeignModel.Options.defaults());
    StateDict weights = model.weights();
    Set<String> refGrads = ref.keySet().stream().filter(k -> k.startsWith("grad.")).map(k -> k.substring(5))
        .collect(Collectors.toCollection(TreeSet::new));
    assertEquals(refGrads, new TreeSet<>(weights.asMap().keySet()), "every float initializer is a parameter");

    Path dir = tmp.resolve(name + opset);
    ModelArtifacts.writeAll(model, weights, ADAMW, dir, EmitOptions.defaults());
    Map<String, byte[]> files = new LinkedHashMap<>();
    for (String f : List.of(ModelArtifacts.MODEL, ModelArtifacts.GRADS, ModelArtifacts.TRAIN_STEP)) {
      files.put(f, Files.readAllBytes(dir.resolve(f)));
      OnnxChecker.check(files.get(f));
    }
    Tensor x = TorchImportTest.input(ref);
    Tensor labels = ref.get("labels");
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    feeds.put(model.inputName(), x);
    feeds.put(TrainingGraphs.LABELS, labels);

    // The gradient graph in float64, against torch.autograd in float64.
    Map<String, Tensor> exact = Evaluator.runFloat64(TrainingGraphs.grads(model, weights, ADAMW), feeds);
    Tolerance.assertRelErr(exact.get("loss"), ref.get("loss"), 1e-6, name + " loss");
    for (String p : refGrads) {
      Tolerance.assertRelErr(exact.get(p + ".grad"), ref.get("grad." + p), 1e-6, name + " float64 grad of " + p);
    }

    // grads.onnx in ONNX Runtime (float32).
    Map<String, Tensor> gradFeeds = new LinkedHashMap<>(feeds);
    gradFeeds.putAll(weights.asMap());
    Map<String, Tensor> ort = OrtRunner.run(files.get(ModelArtifacts.GRADS), gradFeeds);
    Tolerance.assertRelErr(ort.get("loss"), ref.get("loss"), 1e-5, name + " ONNX Runtime loss");
    for (String p : refGrads) {
      Tolerance.assertRelErr(ort.get(p + ".grad"), ref.get("grad." + p), 1e-4, name + " ONNX Runtime grad of " + p);
    }

    // One train_step.onnx step from zero optimizer state, against torch.optim.AdamW.
    Map<String, Tensor> stepFeeds = new LinkedHashMap<>(gradFeeds);
    stepFeeds.put(TrainingGraphs.LR, Tensor.scalar(DType.FLOAT32, 1e-2));
    stepFeeds.put(TrainingGraphs.STEP, Tensor.scalar(DType.INT64, 1));
    for (Param p : model.parameters()) {
      stepFeeds.put(p.name() + ".exp_avg", Tensor.zeros(DType.FLOAT32, p.shape()));
      stepFeeds.put(p.name() + ".exp_avg_sq", Tensor.zeros(DType.FLOAT32, p.shape()));
    }
    Map<String, Tensor> step = OrtRunner.run(files.get(ModelArtifacts.TRAIN_STEP), stepFeeds);
    for (String p : refGrads) {
      assertAdamStep(step.get(p + ".next"), ref.get("next." + p), ref.get("grad." + p), weights.get(p),
          name + " AdamW step of " + p);
    }
  }

  /**
   * The first AdamW step moves each entry by about lr·g/(|g| + eps): entries whose true gradient is zero (the
   * key bias, to which softmax is invariant) move by the sign of rounding noise, differently in float32 and
   * float64, so for them only the step's bound (lr, plus decay) is checked; all others must match closely.
   */
  static void assertAdamStep(Tensor next, Tensor expected, Tensor grad, Tensor before, String what) {
    assertArrayEquals(expected.shape(), next.shape(), what);
    int checked = 0;
    for (int i = 0; i < next.size(); i++) {
      if (Math.abs(grad.get(i)) < 1e-9) {
        assertTrue(Math.abs(next.get(i) - before.get(i)) <= 1.01e-2, what + " at " + i + " moved by "
            + (next.get(i) - before.get(i)));
        continue;
      }
      checked++;
      double tol = 1e-6 + 1e-5 * Math.abs(expected.get(i));
      assertTrue(Math.abs(next.get(i) - expected.get(i)) <= tol, what + " at flat index " + i + ": got "
          + next.get(i) + ", expected " + expected.get(i) + " (gradient " + grad.get(i) + ")");
    }
    assertTrue(checked > 0 || next.size() == 0, what + ": no entry had a gradient to check");
  }

  @Test
  void weightDecayFollowsThePresetsRule() throws IOException {
    ForeignModel lm = load("lm", 17, ForeignModel.Options.defaults());
    Map<String, Boolean> decay = lm.parameters().stream().collect(Collectors.toMap(Param::name, Param::decay));
    assertFalse(decay.get("pos_embed"), "pos_embed is rank 3 but never decays");
    assertTrue(decay.get("wte.weight"));
    assertFalse(decay.get("block.qkv.bias"));
    assertFalse(decay.get("ln_f.weight"));
  }

  @Test
  void frozenInitializersStayConstantsAndTheOthersKeepTorchGradients() throws IOException {
    Map<String, Tensor> ref = TorchExports.reference("mlp", 17);
    ForeignModel model = load("mlp", 17, new ForeignModel.Options(null, Pattern.compile("^fc1\\.")));
    assertEquals(List.of("fc1.weight", "fc1.bias"), model.frozen());
    StateDict weights = model.weights();
    assertFalse(weights.asMap().containsKey("fc1.weight"));
    Path dir = tmp.resolve("frozen");
    ModelArtifacts.writeAll(model, weights, ADAMW, dir, EmitOptions.defaults());
    ModelProto step = ModelProto.parseFrom(Files.readAllBytes(dir.resolve(ModelArtifacts.TRAIN_STEP)));
    OnnxChecker.check(step.toByteArray());
    Set<String> inputs = step.getGraph().getInputList().stream().map(ValueInfoProto::getName)
        .collect(Collectors.toSet());
    assertTrue(inputs.containsAll(List.of("fc2.weight", "fc2.weight.exp_avg", "head.bias")), inputs.toString());
    assertFalse(inputs.stream().anyMatch(n -> n.startsWith("fc1.")), inputs.toString());
    ModelProto inference = ModelProto.parseFrom(Files.readAllBytes(dir.resolve(ModelArtifacts.MODEL)));
    assertFalse(inference.getGraph().getInitializerList().stream().map(TensorProto::getName)
        .anyMatch(n -> n.startsWith("fc1.")), "frozen weights are constants, not initializers");
    Map<String, Tensor> feeds = Map.of("x", TorchImportTest.input(ref), TrainingGraphs.LABELS, ref.get("labels"));
    Map<String, Tensor> exact = Evaluator.runFloat64(TrainingGraphs.grads(model, weights, ADAMW), feeds);
    assertFalse(exact.containsKey("fc1.weight.grad"));
    for (String p : weights.asMap().keySet()) {
      Tolerance.assertRelErr(exact.get(p + ".grad"), ref.get("grad." + p), 1e-6, "grad of " + p);
    }
  }
}

package org.twicing.tests.parity;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.twicing.codegen.train.CrossEntropy;
import org.twicing.codegen.train.Optimizer;
import org.twicing.codegen.train.TrainingGraphs;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.nn.Param;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.dsl.types.Tensor;
import org.twicing.models.zoo.PresetOptions;
import org.twicing.models.zoo.Zoo;

/**
 * Gradient parity: the emitted {@code grads} graph run in ONNX Runtime (float32) against PyTorch autograd in
 * float64 ({@code torch_reference.py --mode grads}) on the same weights, inputs and labels. The loss, every
 * parameter gradient and (for the ViT) the input gradient {@code pixels.grad} must each match within a relative
 * error of {@value #TOL} (max|a-b| over max|ref| of that tensor). Covers twicing and softmax attention for the
 * vision and language presets, label smoothing, and ignored LM positions.
 */
class GradientParityTest {
  /** Allowed per-tensor relative error of float32 gradients against float64 PyTorch. */
  static final double TOL = 1e-4;
  /** Flat label positions set to the ignore index in the ignore-index case (batch 2 x T 16). */
  static final int[] IGNORED = {0, 5, 6, 15, 17, 30};

  static Stream<Arguments> cases() {
    PresetOptions twicing = PresetOptions.defaults();
    PresetOptions softmax = PresetOptions.defaults().withAttention("softmax");
    return Stream.of(
        Arguments.of("vit-fmnist", "twicing, label smoothing 0.1", twicing, 0.1, false),
        Arguments.of("vit-fmnist", "softmax", softmax, 0.0, false),
        Arguments.of("lm-tiny", "twicing, ignore_index", twicing, 0.0, true),
        Arguments.of("lm-tiny", "softmax, label smoothing 0.1", softmax, 0.1, false),
        Arguments.of("lm-tiny", "twicing all, smoothing + ignore_index",
            PresetOptions.defaults().withTwicingLayers("all"), 0.1, true));
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void gradientsMatchPyTorchFloat64(String preset, String variant, PresetOptions options, double smoothing,
      boolean ignore) {
    TorchReference ref = TorchReference.get();
    TaskModel model = Zoo.build(preset, options);
    long seed = 2000 + preset.hashCode() + variant.hashCode();
    StateDict w = ParityFixtures.weights(model, seed);
    Random rng = new Random(seed);
    Tensor x = ParityFixtures.input(model, 2, 16, rng);
    Tensor labels = ParityFixtures.labels(model, x, rng);
    if (ignore) {
      labels = ParityFixtures.withIgnored(labels, -100, IGNORED);
    }
    Map<String, Tensor> inputs = Map.of(model.inputName(), x, TrainingGraphs.LABELS, labels);
    List<String> args = new ArrayList<>(List.of("--label-smoothing", Double.toString(smoothing),
        "--ignore-index", "-100"));
    Future<Map<String, Tensor>> expected = ref.submit(model.configJson(), w.asMap(), inputs, "grads",
        args.toArray(String[]::new));

    TrainingSpec spec = new TrainingSpec(new CrossEntropy(smoothing, -100),
        new Optimizer.AdamW(0.9, 0.999, 1e-8, 0.05), 0.0, 0);
    byte[] onnx = ParityFixtures.emit(TrainingGraphs.grads(model, w, spec), true);
    Map<String, Tensor> feeds = new LinkedHashMap<>(inputs);
    feeds.putAll(w.asMap());
    Map<String, Tensor> actual = ParityFixtures.ort(onnx, feeds);

    Map<String, Tensor> torch = TorchReference.await(expected);
    List<String> names = new ArrayList<>();
    names.add("loss");
    for (Param p : model.parameters()) {
      names.add(p.name() + ".grad");
    }
    if (model.inputType().dtype().isFloating()) {
      names.add(model.inputName() + ".grad");
    }
    // Both sides produce exactly these tensors: nothing missing, nothing extra.
    assertEquals(new TreeSet<>(names), new TreeSet<>(torch.keySet()), "reference outputs");
    assertEquals(new TreeSet<>(names), new TreeSet<>(actual.keySet()), "grads.onnx outputs");
    ParityFixtures.compare("grads " + preset + " " + variant, ParityFixtures.same(names), actual, torch, TOL);
  }
}

package org.twicing.tests.parity;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.twicing.codegen.graphs.InferenceGraph;
import org.twicing.dsl.nn.AttentionKind;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.dsl.types.Tensor;
import org.twicing.models.zoo.PresetOptions;
import org.twicing.models.zoo.Zoo;

/**
 * Whole-model forward parity: every zoo preset with its default attention, all-softmax attention and a twicing
 * subset is built, initialised from a seed, emitted as an inference ONNX model and run in ONNX Runtime (float32);
 * its logits must match the independent PyTorch model of {@code torch_reference.py} run in float64 on the same
 * weights and inputs within a relative error (max|a-b| / max|b|) of {@value #TOL}.
 */
class ForwardParityTest {
  /** Allowed max-norm relative error of float32 ONNX Runtime logits against float64 PyTorch. */
  static final double TOL = 1e-5;

  static Stream<Arguments> cases() {
    PresetOptions lmPaper = PresetOptions.defaults().withVocab(1000).withDropout(0.0);
    return Stream.of(
        // vit-tiny (224x224, 12 layers, 197 tokens) at batch 1: the most expensive case, so only three variants.
        Arguments.of("vit-tiny", "default", PresetOptions.defaults(), 1, 0),
        Arguments.of("vit-tiny", "softmax", PresetOptions.defaults().withAttention("softmax"), 1, 0),
        Arguments.of("vit-tiny", "twicing last:1", PresetOptions.defaults().withTwicingLayers("last:1"), 1, 0),
        Arguments.of("vit-fmnist", "default", PresetOptions.defaults(), 2, 0),
        Arguments.of("vit-fmnist", "softmax", PresetOptions.defaults().withAttention("softmax"), 2, 0),
        Arguments.of("vit-fmnist", "twicing 0,2", PresetOptions.defaults().withTwicingLayers("0,2"), 2, 0),
        Arguments.of("lm-tiny", "default", PresetOptions.defaults(), 2, 32),
        Arguments.of("lm-tiny", "softmax", PresetOptions.defaults().withAttention("softmax"), 2, 32),
        Arguments.of("lm-tiny", "twicing 0,2", PresetOptions.defaults().withTwicingLayers("0,2"), 2, 32),
        Arguments.of("lm-tiny", "twicing all", PresetOptions.defaults().withTwicingLayers("all"), 2, 32),
        Arguments.of("lm-paper", "default", lmPaper, 2, 32),
        Arguments.of("lm-paper", "softmax", lmPaper.withAttention("softmax"), 2, 32),
        Arguments.of("lm-paper", "twicing last:1", lmPaper.withTwicingLayers("last:1"), 2, 32));
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void logitsMatchPyTorchFloat64(String preset, String variant, PresetOptions options, int batch, int tokens) {
    TorchReference ref = TorchReference.get();
    TaskModel model = Zoo.build(preset, options);
    checkAttentionKinds(model, preset, variant);
    long seed = 1000 + preset.hashCode() + variant.hashCode();
    StateDict w = ParityFixtures.weights(model, seed);
    Tensor x = ParityFixtures.input(model, batch, tokens, new Random(seed));
    Map<String, Tensor> feeds = Map.of(model.inputName(), x);
    Future<Map<String, Tensor>> expected = ref.submit(model.configJson(), w.asMap(), feeds, "forward");

    byte[] onnx = ParityFixtures.emit(InferenceGraph.build(model, w), false);
    Map<String, Tensor> actual = ParityFixtures.ort(onnx, feeds);

    Map<String, Tensor> torch = TorchReference.await(expected);
    ParityFixtures.compare("forward " + preset + " " + variant, ParityFixtures.same(List.of("logits")), actual,
        torch, TOL);
  }

  /** The variant really has the per-layer kinds its name says (so the cases differ as intended). */
  private static void checkAttentionKinds(TaskModel model, String preset, String variant) {
    List<String> kinds = model.attentionKinds().stream().map(AttentionKind::name).toList();
    int depth = kinds.size();
    int twicing = (int) kinds.stream().filter("twicing"::equals).count();
    int expected = switch (variant) {
      case "softmax" -> 0;
      case "twicing all" -> depth;
      case "twicing 0,2" -> 2;
      case "twicing last:1" -> 1;
      default -> preset.startsWith("vit") ? depth : 2; // paper defaults: all (DeiT); last 2 (lm-tiny), 14,15
    };
    assertEquals(expected, twicing, preset + " " + variant + " attention kinds " + kinds);
  }
}

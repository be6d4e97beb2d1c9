package org.twicing.tests.parity;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.twicing.codegen.graphs.InferenceGraph;
import org.twicing.codegen.importer.OnnxImporter;
import org.twicing.codegen.passes.TwicingRewrite;
import org.twicing.dsl.eval.Evaluator;
import org.twicing.dsl.io.Safetensors;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.dsl.types.Tensor;
import org.twicing.models.zoo.PresetOptions;
import org.twicing.models.zoo.Zoo;

/**
 * The presets themselves: {@code vit-fmnist} and {@code lm-tiny} built with softmax attention in every layer,
 * written by PyTorch ({@code torch_reference.py}'s modules, exported by {@code torch.onnx.export}) with our weights,
 * imported and rewritten by {@code --attention twicing}, equal the presets with twicing in every layer on the same
 * weights: in our float64 evaluator within {@value #TOL_F64} (the export's float32 constants, such as the
 * attention scale, bound the agreement) and against PyTorch's twicing model in float64 (same bound) and in
 * float32 in ONNX Runtime (within {@value #TOL_F32}).
 */
class ForeignPresetRewriteTest {
  static final double TOL_F64 = 1e-6;
  static final double TOL_F32 = 1e-5;

  @TempDir
  Path tmp;

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"vit-fmnist", "lm-tiny"})
  void rewrittenSoftmaxExportEqualsTheTwicingPreset(String preset) throws Exception {
    TaskModel softmax = Zoo.build(preset, PresetOptions.defaults().withAttention("softmax"));
    TaskModel twicing = Zoo.build(preset, PresetOptions.defaults().withTwicingLayers("all"));
    long seed = 9500 + preset.hashCode();
    StateDict w = ParityFixtures.weights(softmax, seed);
    Random rng = new Random(seed);
    Tensor x = ParityFixtures.input(softmax, 2, 32, rng);
    Map<String, Tensor> inputs = new LinkedHashMap<>();
    inputs.put(softmax.inputName(), x);
    inputs.put("labels", ParityFixtures.labels(softmax, x, rng));
    Files.writeString(tmp.resolve("config.json"), softmax.configJson());
    Safetensors.write(tmp.resolve("weights.safetensors"), w.asMap(), Map.of());
    Safetensors.write(tmp.resolve("inputs.safetensors"), inputs, Map.of());
    ForeignExports.await(ForeignExports.start("forward", tmp), tmp);

    TwicingRewrite.Result r = TwicingRewrite.rewrite(OnnxImporter.read(tmp.resolve("softmax.onnx")).graph());
    long depth = Long.parseLong(softmax.config().get("depth"));
    long heads = Long.parseLong(softmax.config().get("heads"));
    assertEquals(depth, r.sites(), r.summary());
    assertEquals(OptionalLong.of(depth * heads), r.heads(), r.summary());

    Map<String, Tensor> feeds = Map.of(softmax.inputName(), x);
    Map<String, Tensor> ours = new LinkedHashMap<>();
    ours.put("rewritten", Evaluator.runFloat64(r.graph(), feeds).get("logits"));
    ours.put("preset", Evaluator.runFloat64(InferenceGraph.build(twicing, w), feeds).get("logits"));
    ours.put("ort", ParityFixtures.ort(ParityFixtures.emit(r.graph(), false), feeds).get("logits"));
    ParityFixtures.compare("rewritten " + preset + " vs twicing preset (f64)", Map.of("rewritten", "preset"), ours,
        ours, TOL_F64);
    ParityFixtures.compare("rewritten " + preset + " vs torch twicing (f64)", Map.of("rewritten", "logits"), ours,
        reference("f64"), TOL_F64);
    ParityFixtures.compare("rewritten " + preset + " vs torch twicing (ORT f32)", Map.of("ort", "logits"), ours,
        reference("f32"), TOL_F32);
  }

  private Map<String, Tensor> reference(String tag) throws IOException {
    return ForeignExports.reference(tmp.resolve("twicing.ref.safetensors"), tag);
  }
}

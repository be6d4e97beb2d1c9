package org.twicing.tests.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.InvalidProtocolBufferException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.codegen.graphs.InferenceGraph;
import org.twicing.codegen.onnx.OnnxProtos.GraphProto;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.NodeProto;
import org.twicing.codegen.onnx.OnnxProtos.StringStringEntryProto;
import org.twicing.codegen.onnx.OnnxProtos.TensorProto;
import org.twicing.codegen.onnx.OnnxProtos.TrainingInfoProto;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.nn.AttentionKind;
import org.twicing.dsl.nn.Gpt;
import org.twicing.dsl.nn.Param;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.models.zoo.PresetOptions;
import org.twicing.models.zoo.Zoo;
import org.twicing.runtime.ModelSession;
import org.twicing.tests.support.OnnxChecker;

/**
 * The artifacts {@code twicing emit} writes for every zoo preset ({@code model.onnx} with its training_info,
 * {@code grads.onnx}, {@code train_step.onnx}; lm-paper with a 1000-word vocabulary): each passes the official ONNX
 * checker with full (strict) shape inference, uses default-domain ops only and loads in ONNX Runtime; emitting
 * twice from the same seed gives identical bytes; the inference graph of a twicing layer has exactly one more
 * MatMul than a softmax layer and no product of the attention matrix with itself; and model.onnx's training_info
 * binds every parameter and optimizer state to its {@code .next} output.
 */
class EmittedPresetsTest {
  private static final Pattern ATTENTION_SCOPE = Pattern.compile("(?:^|\\.)(\\d+)\\.attn/");

  static Stream<Arguments> presets() {
    return Stream.of(
        Arguments.of("vit-tiny", PresetOptions.defaults()),
        Arguments.of("vit-fmnist", PresetOptions.defaults()),
        Arguments.of("lm-tiny", PresetOptions.defaults()),
        Arguments.of("lm-paper", PresetOptions.defaults().withVocab(1000)));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("presets")
  void artifactsAreValidDeterministicAndTwiceEfficiently(String preset, PresetOptions options, @TempDir Path tmp)
      throws IOException {
    long t0 = System.nanoTime();
    Path first = tmp.resolve("first");
    Path second = tmp.resolve("second");
    TaskModel model = writeArtifacts(preset, options, first);
    writeArtifacts(preset, options, second);
    long tEmit = System.nanoTime();

    Map<String, byte[]> files = new LinkedHashMap<>();
    List<String> names = model instanceof Gpt gpt && gpt.supportsCachedDecoding()
        ? List.of(ModelArtifacts.MODEL, ModelArtifacts.GRADS, ModelArtifacts.TRAIN_STEP, ModelArtifacts.DECODE)
        : List.of(ModelArtifacts.MODEL, ModelArtifacts.GRADS, ModelArtifacts.TRAIN_STEP);
    for (String name : names) {
      byte[] a = Files.readAllBytes(first.resolve(name));
      byte[] b = Files.readAllBytes(second.resolve(name));
      assertArrayEquals(a, b, preset + " " + name + ": two emissions with the same seed differ");
      files.put(name, a);
    }
    try (Stream<Path> listing = Files.list(first)) {
      assertEquals(Set.copyOf(names),
          listing.map(p -> p.getFileName().toString()).collect(Collectors.toSet()),
          "emitted files (no external data, no leftovers)");
    }

    for (Map.Entry<String, byte[]> e : files.entrySet()) {
      OnnxChecker.check(e.getValue());
    }
    long tCheck = System.nanoTime();
    for (Map.Entry<String, byte[]> e : files.entrySet()) {
      try (ModelSession s = ModelSession.open(e.getValue())) {
        assertFalse(s.outputs().isEmpty(), e.getKey() + " has outputs in ONNX Runtime");
      }
    }
    long tOrt = System.nanoTime();

    ModelProto inference = parse(files.get(ModelArtifacts.MODEL));
    checkTrainingInfo(model, inference, parse(files.get(ModelArtifacts.TRAIN_STEP)));
    checkAttentionMatMuls(preset, options, model, inference.getGraph());
    System.out.printf(Locale.ROOT, "[emit] %-10s model %6.1f MB, grads %5.1f MB, train_step %5.1f MB; emit x2 %.1fs,"
        + " checker %.1fs, ORT load %.1fs%n", preset, mb(files.get(ModelArtifacts.MODEL)),
        mb(files.get(ModelArtifacts.GRADS)), mb(files.get(ModelArtifacts.TRAIN_STEP)), (tEmit - t0) / 1e9,
        (tCheck - tEmit) / 1e9, (tOrt - tCheck) / 1e9);
  }

  /** Builds the preset and writes its artifacts from seed 42 (everything from scratch, as two CLI runs would). */
  private static TaskModel writeArtifacts(String preset, PresetOptions options, Path dir) throws IOException {
    TaskModel model = Zoo.build(preset, options);
    StateDict w = StateDict.initialize(model, 42);
    ModelArtifacts.writeAll(model, w, TrainingSpec.defaults(), dir, EmitOptions.defaults());
    return model;
  }

  /**
   * training_info: one entry whose algorithm is the train step with the parameters referenced from the model's
   * initializers and the optimizer states as zero initializers of its own; an update binding X -> X.next for every
   * parameter and state, each target an initializer and each source an algorithm output.
   */
  private static void checkTrainingInfo(TaskModel model, ModelProto inference, ModelProto trainStep) {
    assertEquals(1, inference.getTrainingInfoCount(), "model.onnx carries one training_info");
    TrainingInfoProto ti = inference.getTrainingInfo(0);
    GraphProto algo = ti.getAlgorithm();
    Set<String> mainInitializers = new HashSet<>();
    inference.getGraph().getInitializerList().forEach(t -> mainInitializers.add(t.getName()));
    Map<String, TensorProto> algoInitializers = new LinkedHashMap<>();
    algo.getInitializerList().forEach(t -> algoInitializers.put(t.getName(), t));
    Set<String> algoOutputs = new HashSet<>();
    algo.getOutputList().forEach(o -> algoOutputs.add(o.getName()));
    Set<String> algoInputs = new HashSet<>();
    algo.getInputList().forEach(i -> algoInputs.add(i.getName()));

    Map<String, String> bindings = new LinkedHashMap<>();
    for (StringStringEntryProto b : ti.getUpdateBindingList()) {
      assertTrue(bindings.put(b.getKey(), b.getValue()) == null, "duplicate update binding for " + b.getKey());
    }
    Map<String, String> expected = new LinkedHashMap<>();
    for (Param p : model.parameters()) {
      expected.put(p.name(), p.name() + ".next");
      assertTrue(mainInitializers.contains(p.name()), "parameter " + p.name() + " is an initializer of model.onnx");
      assertFalse(algoInputs.contains(p.name()), "the algorithm reads " + p.name() + " from the model, not inputs");
      for (String s : List.of("exp_avg", "exp_avg_sq")) {
        String st = p.name() + "." + s;
        expected.put(st, st + ".next");
        TensorProto init = algoInitializers.get(st);
        assertTrue(init != null, "optimizer state " + st + " is an initializer of the algorithm");
        assertEquals(p.numel(), init.getDimsList().stream().mapToLong(Long::longValue).reduce(1, (x, y) -> x * y),
            st + " has the parameter's size");
      }
    }
    assertEquals(new TreeMap<>(expected), new TreeMap<>(bindings), "update bindings");
    bindings.values().forEach(v -> assertTrue(algoOutputs.contains(v), "binding source " + v
        + " is an output of the algorithm"));
    // The algorithm's remaining inputs are what a training step needs from the caller.
    assertEquals(Set.of(model.inputName(), "labels", "lr", "step"), algoInputs, "algorithm inputs");
    // And its outputs are those of the standalone train_step.onnx.
    Set<String> stepOutputs = new HashSet<>();
    trainStep.getGraph().getOutputList().forEach(o -> stepOutputs.add(o.getName()));
    assertEquals(stepOutputs, algoOutputs, "training_info algorithm outputs = train_step.onnx outputs");
  }

  /**
   * Per layer, twicing attention has exactly one more MatMul than softmax attention (the same preset emitted with
   * all-softmax attention is the baseline); the whole graph has as many extra MatMuls as twicing layers; no MatMul
   * multiplies a tensor by itself or takes the attention matrix as its right operand (that would form A·A).
   */
  private static void checkAttentionMatMuls(String preset, PresetOptions options, TaskModel model, GraphProto g) {
    TaskModel softmaxModel = Zoo.build(preset, options.withAttention("softmax"));
    GraphProto baseline = OnnxEmitter.emit(InferenceGraph.build(softmaxModel,
        StateDict.initialize(softmaxModel, 42)), EmitOptions.defaults()).getGraph();
    Map<Integer, Integer> perLayer = matMulsPerLayer(g);
    Map<Integer, Integer> basePerLayer = matMulsPerLayer(baseline);
    List<AttentionKind> kinds = model.attentionKinds();
    assertEquals(kinds.size(), basePerLayer.size(), "attention layers found in the softmax graph");
    int twicingLayers = 0;
    for (int i = 0; i < kinds.size(); i++) {
      boolean twicing = kinds.get(i).name().equals("twicing");
      twicingLayers += twicing ? 1 : 0;
      int base = basePerLayer.get(i);
      assertEquals(2, base, preset + " softmax layer " + i + ": Q·Kᵀ and A·V");
      assertEquals(base + (twicing ? 1 : 0), perLayer.get(i), preset + " layer " + i + " (" + kinds.get(i).name()
          + ") MatMul count");
    }
    assertTrue(twicingLayers > 0, preset + " has twicing layers by default");
    assertEquals(countOps(baseline, "MatMul") + twicingLayers, countOps(g, "MatMul"),
        preset + ": total MatMuls = softmax model's + one per twicing layer");
    Set<String> softmaxOutputs = new HashSet<>();
    for (NodeProto n : g.getNodeList()) {
      if (n.getOpType().equals("Softmax")) {
        softmaxOutputs.addAll(n.getOutputList());
      }
    }
    assertEquals(kinds.size(), softmaxOutputs.size(), "one attention softmax per layer");
    for (NodeProto n : g.getNodeList()) {
      if (n.getOpType().equals("MatMul")) {
        assertNotEquals(n.getInput(0), n.getInput(1), "MatMul " + n.getName() + " squares its input");
        assertFalse(softmaxOutputs.contains(n.getInput(1)), "MatMul " + n.getName()
            + " has the attention matrix as right operand (an A·A product)");
      }
    }
  }

  private static Map<Integer, Integer> matMulsPerLayer(GraphProto g) {
    Map<Integer, Integer> m = new TreeMap<>();
    for (NodeProto n : g.getNodeList()) {
      Matcher mt = ATTENTION_SCOPE.matcher(n.getName());
      if (mt.find()) {
        m.merge(Integer.parseInt(mt.group(1)), n.getOpType().equals("MatMul") ? 1 : 0, Integer::sum);
      }
    }
    return m;
  }

  private static long countOps(GraphProto g, String op) {
    return g.getNodeList().stream().filter(n -> n.getOpType().equals(op)).count();
  }

  private static ModelProto parse(byte[] bytes) {
    try {
      return ModelProto.parseFrom(bytes);
    } catch (InvalidProtocolBufferException e) {
      throw new AssertionError("not a ModelProto: " + e.getMessage(), e);
    }
  }

  private static double mb(byte[] b) {
    return b.length / 1e6;
  }
}

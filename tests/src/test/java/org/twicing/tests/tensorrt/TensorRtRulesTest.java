package org.twicing.tests.tensorrt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.codegen.emit.ModelWriter;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.codegen.graphs.DecodeGraph;
import org.twicing.codegen.onnx.OnnxProtos.GraphProto;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.NodeProto;
import org.twicing.codegen.onnx.OnnxProtos.OperatorSetIdProto;
import org.twicing.codegen.onnx.OnnxProtos.TensorProto;
import org.twicing.codegen.onnx.OnnxProtos.ValueInfoProto;
import org.twicing.codegen.tensorrt.TensorRtCheck;
import org.twicing.dsl.nn.Gpt;
import org.twicing.dsl.nn.StateDict;
import org.twicing.models.cli.TwicingCli;
import org.twicing.models.zoo.PresetOptions;
import org.twicing.models.zoo.Zoo;
import picocli.CommandLine;

/**
 * One test per rule of {@link TensorRtCheck} (TensorRT's ONNX parser restrictions): each rule flags a model that
 * breaks it, naming the node or import at fault, and passes the same model made compliant, so a rule that stopped
 * firing, or fired on compliant models, fails here. Then the language-model presets (inference and decode graphs)
 * are fit with a complete profile, and {@code twicing inspect --tensorrt} prints that profile.
 */
class TensorRtRulesTest {

  /** A one-node model: {@code node} in the default domain at {@code opset}, plus {@code edit} for the rest. */
  private static ModelProto model(int opset, NodeProto node, Consumer<GraphProto.Builder> edit) {
    GraphProto.Builder g = GraphProto.newBuilder().setName("rule").addNode(node)
        .addInput(ValueInfoProto.newBuilder().setName("x"))
        .addOutput(ValueInfoProto.newBuilder().setName("y"));
    edit.accept(g);
    return ModelProto.newBuilder().setIrVersion(8).setGraph(g)
        .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset)).build();
  }

  private static NodeProto node(String op, String... inputs) {
    return NodeProto.newBuilder().setName("n0").setOpType(op).addAllInput(List.of(inputs)).addOutput("y").build();
  }

  private static NodeProto constant(String output) {
    return NodeProto.newBuilder().setName("c0").setOpType("Constant").addOutput(output).build();
  }

  private static List<String> findings(ModelProto m) {
    return TensorRtCheck.check(m).stream().map(Object::toString).toList();
  }

  @ParameterizedTest(name = "opset {0}")
  @ValueSource(ints = {13, 16, 17, 18})
  void opsetRule(int opset) {
    List<String> f = findings(model(opset, node("Relu", "x"), g -> { }));
    if (opset < 17) {
      assertEquals(List.of("model: opset " + opset + " lacks LayerNormalization; emit opset 17"), f);
    } else {
      assertEquals(List.of(), f);
    }
  }

  @Test
  void domainRule() {
    ModelProto plain = model(17, node("Relu", "x"), g -> { });
    assertEquals(List.of(), findings(plain));
    ModelProto aiOnnx = plain.toBuilder().setOpsetImport(0, OperatorSetIdProto.newBuilder().setDomain("ai.onnx")
        .setVersion(17)).build();
    assertEquals(List.of(), findings(aiOnnx), "ai.onnx is the default domain by its other name");

    ModelProto imported = plain.toBuilder().addOpsetImport(OperatorSetIdProto.newBuilder()
        .setDomain("com.microsoft").setVersion(1)).build();
    assertEquals(List.of("model: imports custom domain 'com.microsoft' (TensorRT needs plugins)"),
        findings(imported));
    ModelProto customNode = model(17, node("FusedGemm", "x").toBuilder().setDomain("com.microsoft").build(),
        g -> { });
    assertEquals(List.of("node n0 (FusedGemm): custom domain 'com.microsoft'"), findings(customNode));
  }

  static Stream<Arguments> constantInputOps() {
    return Stream.of(Arguments.of("Conv", 1), Arguments.of("Squeeze", 1), Arguments.of("Unsqueeze", 1),
        Arguments.of("Pad", 1));
  }

  @ParameterizedTest(name = "{0} input {1}")
  @MethodSource("constantInputOps")
  void constantInputRule(String op, int index) {
    assertEquals(1, index, "every op of the rule takes its constant at input 1");
    ModelProto fromInput = model(17, node(op, "x", "k"), g -> g.addInput(ValueInfoProto.newBuilder().setName("k")));
    assertEquals(List.of("node n0 (" + op + "): input 1 'k' must be an initializer or Constant"),
        findings(fromInput));
    ModelProto fromInitializer = model(17, node(op, "x", "k"),
        g -> g.addInitializer(TensorProto.newBuilder().setName("k")));
    assertEquals(List.of(), findings(fromInitializer));
    ModelProto fromConstant = model(17, node(op, "x", "k"), g -> g.addNode(0, constant("k")));
    assertEquals(List.of(), findings(fromConstant));
    ModelProto omitted = model(17, node(op, "x", ""), g -> { });
    assertEquals(List.of(), findings(omitted), "an omitted optional input is no finding");
  }

  @Test
  void sliceAxesRule() {
    Consumer<GraphProto.Builder> constStartsEnds = g -> g.addNode(0, constant("s")).addNode(0, constant("e"));
    ModelProto axesFromInput = model(17, node("Slice", "x", "s", "e", "a"),
        constStartsEnds.andThen(g -> g.addInput(ValueInfoProto.newBuilder().setName("a"))));
    assertEquals(List.of("node n0 (Slice): axes 'a' must be an initializer or Constant"), findings(axesFromInput));
    ModelProto axesConstant = model(17, node("Slice", "x", "s", "e", "a"),
        constStartsEnds.andThen(g -> g.addNode(0, constant("a"))));
    assertEquals(List.of(), findings(axesConstant));
    // Run-time starts and ends are fine for TensorRT (dynamic slicing); only the axes must be known.
    ModelProto dynamicEnds = model(17, node("Slice", "x", "s", "x2", "a"),
        g -> g.addNode(0, constant("s")).addNode(0, constant("a")).addInput(ValueInfoProto.newBuilder()
            .setName("x2")));
    assertEquals(List.of(), findings(dynamicEnds));
    ModelProto noAxes = model(17, node("Slice", "x", "s", "e"), constStartsEnds);
    assertEquals(List.of(), findings(noAxes));
  }

  @Test
  void unsupportedAndTrainingOnlyOpsRule() {
    assertEquals(List.of("node n0 (OneHot): not supported by TensorRT's ONNX parser"),
        findings(model(17, node("OneHot", "x"), g -> { })));
    assertEquals(List.of("node n0 (Dropout): training-only op in an inference graph; emit the inference model"),
        findings(model(17, node("Dropout", "x"), g -> { })));
  }

  static Stream<Arguments> lmPresets() {
    return Stream.of(
        Arguments.of("lm-tiny", PresetOptions.defaults().withDropout(0.1), 17),
        Arguments.of("lm-tiny", PresetOptions.defaults().withAttention("softmax"), 17),
        Arguments.of("lm-tiny", PresetOptions.defaults().withTwicingLayers("all"), 18),
        Arguments.of("lm-paper", PresetOptions.defaults().withVocab(64), 17));
  }

  @ParameterizedTest(name = "{0} {1} opset {2}")
  @MethodSource("lmPresets")
  void languageModelPresetsAreFitWithAFullProfile(String preset, PresetOptions options, int opset) {
    Gpt m = (Gpt) Zoo.build(preset, options);
    StateDict w = StateDict.initialize(m, 0);
    EmitOptions o = EmitOptions.builder().opset(opset).build();
    long c = m.cfg().context();
    Map<String, long[]> ranges = Map.of("batch", new long[] {1, 8, 64}, "T", new long[] {1, c, c},
        "S", new long[] {1, 1, c}, "past", new long[] {0, c / 2, c - 1});
    ModelProto inference = ModelArtifacts.inferenceModel(m, w, null, o);
    ModelProto decode = OnnxEmitter.emit(DecodeGraph.build(m, w), o);
    for (ModelProto p : List.of(inference, decode)) {
      String which = p == inference ? "model.onnx" : "decode.onnx";
      assertEquals(List.of(), findings(p), preset + " " + which);
      Map<String, long[][]> profile = TensorRtCheck.profile(p, ranges);
      long inputs = p.getGraph().getInputList().stream().filter(i -> p.getGraph().getInitializerList().stream()
          .noneMatch(t -> t.getName().equals(i.getName()))).count();
      assertEquals(inputs, profile.size(), which + ": every run-time input has a profile");
      profile.forEach((name, mm) -> {
        for (int d = 0; d < mm[0].length; d++) {
          assertTrue(mm[0][d] <= mm[1][d] && mm[1][d] <= mm[2][d], which + " " + name + " dim " + d);
        }
      });
    }
  }

  @Test
  void inspectTensorRtPrintsTheDecodeProfile(@TempDir Path dir) throws Exception {
    Gpt m = (Gpt) Zoo.build("lm-tiny", PresetOptions.defaults());
    StateDict w = StateDict.initialize(m, 0);
    Path decode = dir.resolve("decode.onnx");
    ModelWriter.write(OnnxEmitter.emit(DecodeGraph.build(m, w), EmitOptions.defaults()), decode);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    CommandLine cl = TwicingCli.commandLine();
    cl.setOut(new PrintWriter(out, true, StandardCharsets.UTF_8));
    cl.setErr(new PrintWriter(err, true, StandardCharsets.UTF_8));
    int code = cl.execute("inspect", "--tensorrt", "--range", "batch=2,4,8", decode.toString());
    String text = out.toString(StandardCharsets.UTF_8);
    assertEquals(0, code, text + err.toString(StandardCharsets.UTF_8));
    assertTrue(text.contains("fit for TensorRT's ONNX parser"), text);
    // Context 128: S = 1,1,128 and past = 0,64,127 by default; batch from --range; d_head = 128 / 4 = 32.
    String past = DecodeGraph.past(0, "key");
    assertTrue(text.contains("--minShapes=") && text.contains(DecodeGraph.TOKENS + ":2x1,")
        && text.contains(past + ":2x4x0x32"), text);
    assertTrue(text.contains("--optShapes=") && text.contains(DecodeGraph.TOKENS + ":4x1,")
        && text.contains(past + ":4x4x64x32"), text);
    assertTrue(text.contains("--maxShapes=") && text.contains(DecodeGraph.TOKENS + ":8x128,")
        && text.contains(past + ":8x4x127x32"), text);
    int bad = cl.execute("inspect", "--tensorrt", "--range", "batch=1,2", decode.toString());
    assertEquals(TwicingCli.EXIT_USAGE, bad, "a range that is not MIN,OPT,MAX is a usage error");
  }

  @Test
  void inspectTensorRtTakesTheDefaultRangesFromTheModelsContext(@TempDir Path dir) throws Exception {
    // lm-tiny with context 64 instead of 128: the profile must follow twicing.config, not the fallback of 128.
    Gpt tiny = (Gpt) Zoo.build("lm-tiny", PresetOptions.defaults());
    Gpt m = new Gpt(tiny.cfg().toBuilder().context(64).build());
    Path decode = dir.resolve("decode.onnx");
    ModelWriter.write(OnnxEmitter.emit(DecodeGraph.build(m, StateDict.initialize(m, 0)), EmitOptions.defaults()),
        decode);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    CommandLine cl = TwicingCli.commandLine();
    cl.setOut(new PrintWriter(out, true, StandardCharsets.UTF_8));
    cl.setErr(new PrintWriter(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
    assertEquals(0, cl.execute("inspect", "--tensorrt", decode.toString()));
    String text = out.toString(StandardCharsets.UTF_8);
    // past = 0, C/2, C-1 and S up to C with C = 64; batch 1, 8, 64 by default; d_head = 128 / 4 = 32.
    String past = DecodeGraph.past(0, "key");
    assertTrue(text.contains(past + ":8x4x32x32") && text.contains(past + ":64x4x63x32")
        && text.contains(DecodeGraph.TOKENS + ":64x64,"), text);
  }
}

package org.twicing.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtSession;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.ModelWriter;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.TensorShapeProto;
import org.twicing.dsl.eval.Evaluator;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.ops.Ops;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/** Runs DSL graphs through ONNX Runtime and checks results and input validation against the float64 reference. */
class ModelSessionTest {
  private static final Graph MLP = TestGraphs.mlp();
  private static final Graph TWO = TestGraphs.twoInputs();
  private static ModelSession mlp;
  private static ModelSession two;

  @BeforeAll
  static void open() {
    mlp = ModelSession.open(TestGraphs.onnx(MLP));
    two = ModelSession.open(TestGraphs.onnx(TWO));
  }

  @AfterAll
  static void close() {
    mlp.close();
    two.close();
  }

  @Test
  void reportsDeclaredInputsAndOutputsWithSymbolicDims() {
    assertEquals(Map.of("x", TensorType.of(DType.FLOAT32, "batch", 4)), mlp.inputs());
    assertEquals(List.of("probs", "h"), List.copyOf(mlp.outputs().keySet()));
    assertEquals(TensorType.of(DType.FLOAT32, "batch", 3), mlp.output("probs"));
    assertEquals(TensorType.of(DType.INT64, "batch"), two.input("labels"));
    assertEquals(ExecutionProvider.CPU, mlp.provider());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> mlp.input("y"));
    assertTrue(e.getMessage().contains("no input 'y'") && e.getMessage().contains("x float32[batch, 4]"),
        e.getMessage());
  }

  @Test
  void sameSessionRunsBatchOfOneAndFiveMatchingTheReference() {
    Random rng = new Random(11);
    for (int batch : new int[] {1, 5}) {
      Tensor x = Tensor.randn(DType.FLOAT32, rng, 1.0, batch, 4);
      Map<String, Tensor> expected = Evaluator.run(MLP, Map.of("x", x));
      Map<String, Tensor> actual = mlp.runHost(Map.of("x", x));
      assertEquals(List.of("probs", "h"), List.copyOf(actual.keySet()));
      for (String out : expected.keySet()) {
        TestGraphs.assertClose(expected.get(out), actual.get(out), 1e-5, out + " at batch " + batch);
      }
    }
  }

  @Test
  void runWithOrtTensorsFromAZeroCopyBufferMatchesTheReference() {
    Tensor x = Tensor.randn(DType.FLOAT32, new Random(3), 1.0, 2, 4);
    FloatBuffer direct = ByteBuffer.allocateDirect(8 * Float.BYTES).order(ByteOrder.nativeOrder()).asFloatBuffer();
    direct.put(x.toFloats()).flip();
    Tensor expected = Evaluator.run(MLP, Map.of("x", x)).get("probs");
    try (OnnxTensor in = Tensors.fromBuffer(direct, 2, 4);
        Results r = mlp.run(Map.of("x", in), List.of("probs"))) {
      assertEquals(List.of("probs"), r.names());
      assertArrayEquals(new long[] {2, 3}, r.shape("probs"));
      TestGraphs.assertClose(expected, r.host("probs"), 1e-5, "probs");
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> r.tensor("h"));
      assertTrue(e.getMessage().contains("no output 'h'"), e.getMessage());
    }
  }

  @Test
  void twoInputsWithIntegerLabelsMatchTheReference() {
    Tensor pixels = Tensor.randn(DType.FLOAT32, new Random(5), 1.0, 4, 3);
    Tensor labels = new Tensor(DType.INT64, new long[] {4}, new double[] {3, 0, 9, 1L << 40});
    Map<String, Tensor> feeds = Map.of("pixels", pixels, "labels", labels);
    Map<String, Tensor> expected = Evaluator.run(TWO, feeds);
    Map<String, Tensor> actual = two.runHost(feeds);
    TestGraphs.assertClose(expected.get("rowSum"), actual.get("rowSum"), 1e-6, "rowSum");
    TestGraphs.assertClose(expected.get("labelsAsFloat"), actual.get("labelsAsFloat"), 0, "labelsAsFloat");
  }

  @Test
  void boolAndInt32InputsRoundTripThroughTheSession() {
    Graph g = TestGraphs.boolAndInt32();
    Map<String, Tensor> feeds = Map.of(
        "mask", new Tensor(DType.BOOL, new long[] {4}, new double[] {1, 0, 0, 1}),
        "a", Tensor.floats(new long[] {4}, 1.5f, -2f, 3f, 0.25f),
        "k", new Tensor(DType.INT32, new long[] {4}, new double[] {-7, 0, 100000, 3}));
    Map<String, Tensor> expected = Evaluator.run(g, feeds);
    try (ModelSession s = ModelSession.open(TestGraphs.onnx(g))) {
      Map<String, Tensor> actual = s.runHost(feeds);
      TestGraphs.assertClose(expected.get("picked"), actual.get("picked"), 0, "picked");
      TestGraphs.assertClose(expected.get("twiceK"), actual.get("twiceK"), 0, "twiceK");
    }
  }

  @Test
  void opensAModelFileWrittenByModelWriter(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("mlp.onnx");
    ModelWriter.write(OnnxEmitter.emit(MLP, EmitOptions.defaults()), file);
    Tensor x = Tensor.randn(DType.FLOAT32, new Random(2), 1.0, 3, 4);
    try (ModelSession s = ModelSession.open(file)) {
      assertTrue(s.description().contains("mlp") && s.description().contains(file.toString()), s.description());
      TestGraphs.assertClose(Evaluator.run(MLP, Map.of("x", x)).get("h"), s.runHost(Map.of("x", x)).get("h"),
          1e-5, "h");
    }
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ModelSession.open(dir.resolve("absent.onnx")));
    assertTrue(e.getMessage().contains("absent.onnx") && e.getMessage().contains("does not exist"), e.getMessage());
  }

  @Test
  void corruptModelBytesAreReportedAsAnOnnxRuntimeFailure() {
    OnnxRuntimeException e = assertThrows(OnnxRuntimeException.class,
        () -> ModelSession.open(new byte[] {1, 2, 3, 4}));
    assertTrue(e.getMessage().contains("could not load model in-memory, 4 bytes on cpu"), e.getMessage());
  }

  // ---------------------------------------------------------------- input checks

  private static InputMismatchException rejected(Map<String, Tensor> feeds) {
    return assertThrows(InputMismatchException.class, () -> two.runHost(feeds));
  }

  private static void assertMentions(Exception e, String... parts) {
    for (String p : parts) {
      assertTrue(e.getMessage().contains(p), "message lacks '" + p + "': " + e.getMessage());
    }
  }

  @Test
  void wrongDTypeNamesInputExpectedTypeAndActualShape() {
    InputMismatchException e = rejected(Map.of("pixels", Tensor.zeros(DType.FLOAT64, 2, 3),
        "labels", Tensor.zeros(DType.INT64, 2)));
    assertEquals("pixels", e.inputName());
    assertMentions(e, "input 'pixels'", "two_inputs", "expects float32[batch, 3]", "float64 tensor of shape [2, 3]");
  }

  @Test
  void wrongDTypeIsAlsoCaughtForOrtTensors() {
    try (OnnxTensor pixels = Tensors.floats(new float[6], 2, 3); OnnxTensor labels = Tensors.ints(new int[2], 2)) {
      InputMismatchException e = assertThrows(InputMismatchException.class,
          () -> two.run(Map.of("pixels", pixels, "labels", labels)));
      assertMentions(e, "input 'labels'", "expects int64[batch]", "int32 tensor of shape [2]");
    }
  }

  @Test
  void wrongRankNamesInputExpectedTypeAndActualShape() {
    InputMismatchException e = rejected(Map.of("pixels", Tensor.zeros(DType.FLOAT32, 2, 3, 1),
        "labels", Tensor.zeros(DType.INT64, 2)));
    assertMentions(e, "input 'pixels'", "expects float32[batch, 3]", "shape [2, 3, 1]", "rank 3 instead of 2");
  }

  @Test
  void wrongFixedDimNamesInputExpectedTypeAndActualShape() {
    InputMismatchException e = rejected(Map.of("pixels", Tensor.zeros(DType.FLOAT32, 2, 5),
        "labels", Tensor.zeros(DType.INT64, 2)));
    assertMentions(e, "input 'pixels'", "expects float32[batch, 3]", "shape [2, 5]", "dimension 1 is 5 instead of 3");
  }

  @Test
  void inconsistentSymbolicDimNamesBothInputs() {
    InputMismatchException e = rejected(Map.of("pixels", Tensor.zeros(DType.FLOAT32, 4, 3),
        "labels", Tensor.zeros(DType.INT64, 3)));
    assertEquals("labels", e.inputName());
    assertMentions(e, "symbolic dimension 'batch'", "is 4 in input 'pixels'", "shape [4, 3]", "but 3 in input 'labels'",
        "shape [3]", "declared int64[batch]");
  }

  @Test
  void missingInputNamesItAndItsExpectedType() {
    InputMismatchException e = rejected(Map.of("pixels", Tensor.zeros(DType.FLOAT32, 2, 3)));
    assertEquals("labels", e.inputName());
    assertMentions(e, "missing input 'labels'", "expects int64[batch]", "fed: [pixels]");
  }

  @Test
  void unknownInputNamesItItsShapeAndTheRealInputs() {
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    feeds.put("pixels", Tensor.zeros(DType.FLOAT32, 2, 3));
    feeds.put("lables", Tensor.zeros(DType.INT64, 2));
    InputMismatchException e = rejected(feeds);
    assertEquals("lables", e.inputName());
    assertMentions(e, "unknown input 'lables'", "fed int64[2]", "pixels float32[batch, 3]", "labels int64[batch]");
  }

  @Test
  void unnamedDynamicDimsAreReportedAsQuestionMarksAndBindToNothing() {
    // Strip the dim_param names from both inputs: ONNX Runtime then reports plain -1 dims.
    ModelProto.Builder m = OnnxEmitter.emit(TWO, EmitOptions.defaults()).toBuilder();
    for (int i = 0; i < 2; i++) {
      TensorShapeProto.Dimension.Builder d = m.getGraphBuilder().getInputBuilder(i).getTypeBuilder()
          .getTensorTypeBuilder().getShapeBuilder().getDimBuilder(0);
      d.clearDimParam();
    }
    try (ModelSession s = ModelSession.open(m.build().toByteArray())) {
      assertEquals(TensorType.of(DType.FLOAT32, "?", 3), s.input("pixels"));
      Map<String, Tensor> out = s.runHost(Map.of("pixels", Tensor.full(DType.FLOAT32, 1, 4, 3),
          "labels", Tensor.zeros(DType.INT64, 3)));
      assertArrayEquals(new long[] {4}, out.get("rowSum").shape());
      assertArrayEquals(new long[] {3}, out.get("labelsAsFloat").shape());
      assertEquals(3.0, out.get("rowSum").get(0));
    }
  }

  @Test
  void closedSessionRefusesToRun() {
    ModelSession s = ModelSession.open(TestGraphs.onnx(MLP));
    s.close();
    s.close();
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> s.runHost(Map.of("x", Tensor.zeros(DType.FLOAT32, 1, 4))));
    assertMentions(e, "is closed", "mlp");
  }

  @Test
  void threadsOptimisationLevelAndProfilingAreApplied(@TempDir Path dir) throws Exception {
    SessionOptionsSpec spec = SessionOptionsSpec.builder().intraOpThreads(1).interOpThreads(1)
        .optimizationLevel(OrtSession.SessionOptions.OptLevel.NO_OPT)
        .profiling(dir.resolve("prof")).build();
    Tensor x = Tensor.randn(DType.FLOAT32, new Random(9), 1.0, 2, 4);
    try (ModelSession s = ModelSession.open(TestGraphs.onnx(MLP), spec)) {
      TestGraphs.assertClose(Evaluator.run(MLP, Map.of("x", x)).get("probs"), s.runHost(Map.of("x", x)).get("probs"),
          1e-5, "probs");
      Path profile = s.endProfiling();
      assertTrue(Files.size(profile) > 0, "profile " + profile + " is empty");
      assertTrue(Files.readString(profile).contains("MatMul"), "profile lacks the MatMul node");
      assertTrue(profile.getFileName().toString().startsWith("prof"), "profile written as " + profile);
    }
    try (ModelSession s = ModelSession.open(TestGraphs.onnx(MLP))) {
      assertFalse(s.spec().profilingPrefix().isPresent());
      assertThrows(IllegalStateException.class, s::endProfiling);
    }
  }

  /**
   * Scores of attention heads, {@code q · kᵀ} with both operands split into heads by Transpose(0,2,1,3): with the
   * transpose optimizer off (our default) ONNX Runtime fuses Kᵀ into the MatMul; with it on, it first merges the
   * two transposes of k into one strided Transpose(0,2,3,1) and the MatMul stays plain. Both give the same scores.
   */
  @Test
  void transposeOptimizerIsOffByDefaultSoKTransposeFusesIntoMatMul(@TempDir Path dir) throws Exception {
    GraphBuilder g = new GraphBuilder("heads");
    Value q = g.input("q", TensorType.of(DType.FLOAT32, 2, 5, 8));
    Value k = g.input("k", TensorType.of(DType.FLOAT32, 2, 5, 8));
    Value qh = Ops.transpose(Ops.reshape(q, 0, 0, 2, 4), 0, 2, 1, 3);
    Value kh = Ops.transpose(Ops.reshape(k, 0, 0, 2, 4), 0, 2, 1, 3);
    g.output("scores", Ops.matmul(qh, Ops.transpose(kh, 0, 1, 3, 2)));
    Graph graph = g.build();
    Random rng = new Random(3);
    Map<String, Tensor> feeds = Map.of("q", Tensor.randn(DType.FLOAT32, rng, 1.0, 2, 5, 8),
        "k", Tensor.randn(DType.FLOAT32, rng, 1.0, 2, 5, 8));
    Tensor expected = Evaluator.run(graph, feeds).get("scores");
    String[] profiles = new String[2];
    for (int on = 0; on < 2; on++) {
      SessionOptionsSpec spec = SessionOptionsSpec.builder().transposeOptimizer(on == 1)
          .profiling(dir.resolve("p" + on)).build();
      assertEquals(on == 1, spec.transposeOptimizer());
      try (ModelSession s = ModelSession.open(TestGraphs.onnx(graph), spec)) {
        TestGraphs.assertClose(expected, s.runHost(feeds).get("scores"), 1e-5, "scores, optimizer " + on);
        profiles[on] = Files.readString(s.endProfiling());
      }
    }
    assertTrue(profiles[0].contains("\"FusedMatMul\""), "with the optimizer off, Kᵀ should fuse into a FusedMatMul");
    assertFalse(profiles[1].contains("\"FusedMatMul\""), "with the optimizer on, the transposes merge before fusion");
  }
}

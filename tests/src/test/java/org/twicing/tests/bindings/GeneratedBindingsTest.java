package org.twicing.tests.bindings;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.twicing.tests.bindings.GeneratedCode.call;
import static org.twicing.tests.bindings.GeneratedCode.callStatic;
import static org.twicing.tests.bindings.GeneratedCode.get;
import static org.twicing.tests.bindings.GeneratedCode.types;

import ai.onnxruntime.OnnxTensor;
import java.io.IOException;
import java.lang.reflect.Array;
import java.lang.reflect.RecordComponent;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.codegen.bindings.BindingGenerator;
import org.twicing.codegen.bindings.GeneratedSource;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.codegen.emit.ModelWriter;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.codegen.inspect.ModelSummary;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.ir.GraphBuilder;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.dsl.ops.Ops;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.TensorType;
import org.twicing.models.zoo.PresetOptions;
import org.twicing.models.zoo.Zoo;
import org.twicing.runtime.ModelSession;
import org.twicing.runtime.Results;
import org.twicing.runtime.Tensors;
import org.twicing.tests.support.References;

/**
 * Bindings generated for zoo presets, for a model with awkward names and for a file exported by PyTorch: each is
 * compiled with {@code -Xlint:all -Werror}, run by reflection and compared with {@link ModelSession#run} on the
 * same inputs, which it must match exactly; the generated input checks fail with messages naming the input and
 * both shapes.
 */
class GeneratedBindingsTest {
  @TempDir
  Path tmp;

  @Test
  void vitFmnistMatchesModelSessionExactlyAndChecksItsInputs() throws Throwable {
    Path dir = emit("vit-fmnist");
    Path onnx = dir.resolve(ModelArtifacts.MODEL);
    List<GeneratedSource> files = new BindingGenerator("gen.vit").generate(onnx);
    assertEquals(List.of("VitFmnist", "VitFmnistTrainer"), names(files));
    try (GeneratedCode code = GeneratedCode.compile(files, tmp.resolve("build"));
        ModelSession session = ModelSession.open(onnx)) {
      Class<?> cls = code.type("VitFmnist");
      assertEquals(List.of("logits"), components(code.type("VitFmnist$Output")));
      float[][][][] pixels = randomFloats(new Random(1), 3, 1, 28, 28);
      float[] expected = run(session, Map.of("pixels", pixels)).get("logits");

      Object model = callStatic(cls, "load", types(Path.class), onnx);
      try (AutoCloseable closing = (AutoCloseable) model) {
        Object out = call(model, "run", types(float[][][][].class), (Object) pixels);
        float[][] logits = (float[][]) get(out, "logits");
        assertEquals(3, logits.length);
        assertEquals(10, logits[0].length);
        assertArrayEquals(expected, (float[]) flatten(logits));

        FloatBuffer direct = ByteBuffer.allocateDirect(3 * 28 * 28 * Float.BYTES).order(ByteOrder.nativeOrder())
            .asFloatBuffer().put((float[]) flatten(pixels)).flip();
        Object fromBuffer = call(model, "run", types(FloatBuffer.class, long[].class), direct,
            new long[] {3, 1, 28, 28});
        assertArrayEquals(expected, (float[]) flatten(get(fromBuffer, "logits")));

        float[][][][] ragged = randomFloats(new Random(2), 2, 1, 28, 28);
        ragged[1][0][5] = new float[27];
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> call(model, "run", types(float[][][][].class), (Object) ragged));
        assertEquals("input 'pixels' of vit-fmnist is ragged: pixels[1][0][5] has length 27 but pixels[0][0][0] "
            + "has length 28; expected shape [batch, 1, 28, 28], actual shape [2, 1, 28, 28] along the first rows",
            e.getMessage());

        e = assertThrows(IllegalArgumentException.class, () -> call(model, "run", types(float[][][][].class),
            (Object) new float[2][1][27][28]));
        assertEquals("input 'pixels' of vit-fmnist has shape [2, 1, 27, 28] but expects [batch, 1, 28, 28]: "
            + "dimension 2 is 27, not 28", e.getMessage());

        e = assertThrows(IllegalArgumentException.class, () -> call(model, "run",
            types(FloatBuffer.class, long[].class), direct.rewind(), new long[] {3, 784}));
        assertEquals("input 'pixels' of vit-fmnist has shape [3, 784] but expects [batch, 1, 28, 28]: rank 2, not "
            + "4", e.getMessage());
      }

      // Pixels and labels share the symbol batch: the trainer's step checks that they agree.
      Object trainer = callStatic(code.type("VitFmnistTrainer"), "load", types(Path.class), dir);
      try (AutoCloseable closing = (AutoCloseable) trainer) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> call(trainer, "step",
            types(float[][][][].class, long[].class, float.class), new float[2][1][28][28], new long[3], 1e-3f));
        assertEquals("input 'labels' of vit-fmnist has shape [3] but expects [batch]: dimension 0 (batch) is 3, "
            + "but batch is 2 in input 'pixels' (shape [2, 1, 28, 28])", e.getMessage());
        assertEquals(0L, get(trainer, "steps"));
      }
    }
  }

  @Test
  void lmTinyMatchesModelSessionExactly() throws Throwable {
    Path dir = emit("lm-tiny");
    Path onnx = dir.resolve(ModelArtifacts.MODEL);
    List<GeneratedSource> files = new BindingGenerator("gen.lm").generate(onnx);
    assertEquals(List.of("LmTiny", "LmTinyTrainer"), names(files));
    String source = oneLine(files.get(0));
    assertTrue(source.contains("public Output run(long[][] tokens) {"), source);
    assertTrue(source.contains("public Output run(LongBuffer tokens, long[] tokensShape) {"), source);
    assertTrue(source.contains("public record Output(float[][][] logits)"), source);
    assertTrue(oneLine(files.get(1)).contains("public float step(long[][] tokens, long[][] labels, float lr)"));
    try (GeneratedCode code = GeneratedCode.compile(files, tmp.resolve("build"));
        ModelSession session = ModelSession.open(onnx)) {
      Random rng = new Random(3);
      long[][] tokens = new long[2][16];
      for (long[] row : tokens) {
        for (int i = 0; i < row.length; i++) {
          row[i] = rng.nextInt(256);
        }
      }
      float[] expected = run(session, Map.of("tokens", tokens)).get("logits");
      Object model = callStatic(code.type("LmTiny"), "load", types(Path.class), onnx);
      try (AutoCloseable closing = (AutoCloseable) model) {
        float[][][] logits = (float[][][]) get(call(model, "run", types(long[][].class), (Object) tokens), "logits");
        assertEquals(List.of(2, 16, 256), List.of(logits.length, logits[0].length, logits[0][0].length));
        assertArrayEquals(expected, (float[]) flatten(logits));
        LongBuffer direct = ByteBuffer.allocateDirect(32 * Long.BYTES).order(ByteOrder.nativeOrder())
            .asLongBuffer().put((long[]) flatten(tokens)).flip();
        Object out = call(model, "run", types(LongBuffer.class, long[].class), direct, new long[] {2, 16});
        assertArrayEquals(expected, (float[]) flatten(get(out, "logits")));
      }
    }
  }

  @Test
  void awkwardNamesScalarsAndBoolOutputsBecomeIdiomaticCompilableJava() throws Throwable {
    GraphBuilder g = new GraphBuilder("3d net");
    Value klass = g.input("class", TensorType.of(DType.FLOAT32, "batch", 3));
    Value x = g.input("x", TensorType.of(DType.FLOAT32, "batch", 3));
    Value xShape = g.input("xShape", TensorType.of(DType.FLOAT32, "batch", 3));
    Value temperature = g.input("temperature", TensorType.of(DType.FLOAT32));
    g.output("hashCode", Ops.add(klass, x));
    g.output("out.1", Ops.mul(Ops.mul(x, xShape), temperature));
    g.output("is-less", Ops.less(klass, x));
    Path onnx = tmp.resolve("awkward.onnx");
    ModelWriter.write(OnnxEmitter.emit(g.build(), EmitOptions.defaults()), onnx);

    List<GeneratedSource> files = new BindingGenerator("gen.awkward").generate(onnx);
    String source = oneLine(files.get(0));
    assertEquals("Model3dNet", files.get(0).simpleName());
    assertTrue(source.contains("public Output run(float[][] classInput, float[][] x, float[][] xShape, "
        + "float temperature) {"), source);
    assertTrue(source.contains("public Output run(FloatBuffer classInput, long[] classInputShape, FloatBuffer x, "
        + "long[] xShape_, FloatBuffer xShape, long[] xShapeShape, FloatBuffer temperature,"), source);
    assertTrue(source.contains("public record Output(float[][] hashCodeOutput, float[][] out1, boolean[][] isLess)"),
        source);
    try (GeneratedCode code = GeneratedCode.compile(files, tmp.resolve("build"))) {
      float[][] a = {{1, 5, 3}, {0, -1, 2}};
      float[][] b = {{2, 2, 2}, {1, 1, 1}};
      float[][] c = {{3, 3, 3}, {4, 4, 4}};
      Object model = callStatic(code.type("Model3dNet"), "load", types(Path.class), onnx);
      try (AutoCloseable closing = (AutoCloseable) model) {
        Object out = call(model, "run", types(float[][].class, float[][].class, float[][].class, float.class),
            a, b, c, 0.5f);
        assertArrayEquals(new float[][] {{3, 7, 5}, {1, 0, 3}}, (float[][]) get(out, "hashCodeOutput"));
        assertArrayEquals(new float[][] {{3, 3, 3}, {2, 2, 2}}, (float[][]) get(out, "out1"));
        assertArrayEquals(new boolean[][] {{true, false, false}, {true, true, false}},
            (boolean[][]) get(out, "isLess"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> call(model, "run",
            types(float[][].class, float[][].class, float[][].class, float.class), a, b, new float[3][3], 1f));
        assertEquals("input 'xShape' of 3d net has shape [3, 3] but expects [batch, 3]: dimension 0 (batch) is 3, "
            + "but batch is 2 in input 'class' (shape [2, 3])", e.getMessage());
      }
    }
  }

  @Test
  void torchExportedModelMatchesModelSessionExactly() throws Throwable {
    Path onnx = tmp.resolve("tiny_torch.onnx");
    exportWithTorch(onnx);
    List<GeneratedSource> files = new BindingGenerator("gen.torch").generate(onnx);
    assertEquals(1, files.size());
    String name = files.get(0).simpleName();
    String source = oneLine(files.get(0));
    assertTrue(source.contains("public Output run(float[][] inputFeatures, long[][] tokenIds) {"), source);
    assertTrue(source.contains("public record Output(float[][] scores, float[][] hiddenState)"), source);
    assertTrue(source.contains("producer {@code pytorch"), source);
    try (GeneratedCode code = GeneratedCode.compile(files, tmp.resolve("build"));
        ModelSession session = ModelSession.open(onnx)) {
      float[][] features = randomFloats(new Random(4), 5, 6);
      long[][] ids = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}, {0, 0, 0}, {9, 9, 1}};
      Map<String, float[]> expected = run(session, Map.of("input_features", features, "token_ids", ids));
      Object model = callStatic(code.type(name), "load", types(Path.class), onnx);
      try (AutoCloseable closing = (AutoCloseable) model) {
        Object out = call(model, "run", types(float[][].class, long[][].class), features, ids);
        assertArrayEquals(expected.get("scores"), (float[]) flatten(get(out, "scores")));
        assertArrayEquals(expected.get("hidden.state"), (float[]) flatten(get(out, "hiddenState")));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> call(model, "run",
            types(float[][].class, long[][].class), features, new long[4][3]));
        assertEquals("input 'token_ids' of " + BindingGeneratorNames.modelName(onnx) + " has shape [4, 3] but "
            + "expects [batch, 3]: dimension 0 (batch) is 4, but batch is 5 in input 'input_features' (shape "
            + "[5, 6])", e.getMessage());
      }
    }
  }

  // ---------------------------------------------------------------- helpers

  /** Emits a zoo preset's model, gradient and training-step files into a fresh directory. */
  private Path emit(String preset) throws IOException {
    TaskModel m = Zoo.build(preset, PresetOptions.defaults());
    Path dir = Files.createDirectories(tmp.resolve(preset));
    ModelArtifacts.writeAll(m, StateDict.initialize(m, 7), TrainingSpec.defaults(), dir, EmitOptions.defaults());
    return dir;
  }

  /** The source with every run of white space made one blank, so that checks do not depend on line breaks. */
  private static String oneLine(GeneratedSource file) {
    return file.text().replaceAll("\\s+", " ").replace("( ", "(");
  }

  private static List<String> names(List<GeneratedSource> files) {
    return files.stream().map(GeneratedSource::simpleName).toList();
  }

  private static List<String> components(Class<?> record) {
    return Arrays.stream(record.getRecordComponents()).map(RecordComponent::getName).toList();
  }

  /** Every output of {@code session} on {@code inputs} (nested arrays), as flat float32 values. */
  static Map<String, float[]> run(ModelSession session, Map<String, Object> inputs) {
    Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
    try {
      inputs.forEach((name, array) -> feeds.put(name, Tensors.fromArray(name, array)));
      try (Results r = session.run(feeds)) {
        Map<String, float[]> out = new LinkedHashMap<>();
        r.names().forEach(n -> out.put(n, r.floats(n)));
        return out;
      }
    } finally {
      feeds.values().forEach(OnnxTensor::close);
    }
  }

  /** A nested array of the given shape with standard normal values. */
  static <T> T randomFloats(Random rng, int... shape) {
    Object a = Array.newInstance(float.class, shape);
    fill(a, rng);
    @SuppressWarnings("unchecked")
    T t = (T) a;
    return t;
  }

  private static void fill(Object a, Random rng) {
    if (a instanceof float[] f) {
      for (int i = 0; i < f.length; i++) {
        f[i] = (float) rng.nextGaussian();
      }
    } else {
      for (Object row : (Object[]) a) {
        fill(row, rng);
      }
    }
  }

  /** The values of a rectangular nested primitive array in row-major order, as a flat array of its leaf type. */
  static Object flatten(Object nested) {
    List<Object> leaves = new ArrayList<>();
    collect(nested, leaves);
    Class<?> leaf = leaves.get(0).getClass().getComponentType();
    int n = leaves.stream().mapToInt(Array::getLength).sum();
    Object out = Array.newInstance(leaf, n);
    int at = 0;
    for (Object l : leaves) {
      System.arraycopy(l, 0, out, at, Array.getLength(l));
      at += Array.getLength(l);
    }
    return out;
  }

  private static void collect(Object a, List<Object> leaves) {
    if (a.getClass().getComponentType().isPrimitive()) {
      leaves.add(a);
    } else {
      for (Object row : (Object[]) a) {
        collect(row, leaves);
      }
    }
  }

  /**
   * Writes a tiny two-input, two-output PyTorch module exported with torch.onnx. Without /usr/bin/python3 or torch
   * (an ImportError) the test skips, or fails under {@link References#required()}; an export that does not finish
   * in 120 s fails.
   */
  private static void exportWithTorch(Path onnx) throws IOException, InterruptedException {
    Path python = Path.of("/usr/bin/python3");
    References.assume(Files.isExecutable(python), () -> "no /usr/bin/python3");
    String script = String.join("\n",
        "import sys",
        "try:",
        "    import torch",
        "except ImportError as e:",
        "    print('no torch: %s' % e)",
        "    sys.exit(3)",
        "torch.manual_seed(0)",
        "class Tiny(torch.nn.Module):",
        "    def __init__(self):",
        "        super().__init__()",
        "        self.lin = torch.nn.Linear(6, 4)",
        "        self.emb = torch.nn.Embedding(10, 4)",
        "        self.head = torch.nn.Linear(4, 2)",
        "    def forward(self, x, ids):",
        "        h = torch.tanh(self.lin(x) + self.emb(ids).sum(1))",
        "        return self.head(h), h",
        "axes = {n: {0: 'batch'} for n in ['input_features', 'token_ids', 'scores', 'hidden.state']}",
        "torch.onnx.export(Tiny().eval(), (torch.randn(2, 6), torch.zeros(2, 3, dtype=torch.long)), sys.argv[1],",
        "    input_names=['input_features', 'token_ids'], output_names=['scores', 'hidden.state'],",
        "    dynamic_axes=axes, opset_version=14)",
        "");
    Process p = new ProcessBuilder(python.toString(), "-c", script, onnx.toString()).redirectErrorStream(true)
        .start();
    boolean done = p.waitFor(120, TimeUnit.SECONDS);
    if (!done) {
      // Killed before reading, since reading a live process's output would wait for it to end.
      p.destroyForcibly().waitFor();
    }
    String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!done) {
      throw new AssertionError("torch.onnx.export did not finish within 120 s; output so far:\n" + log);
    }
    References.assume(p.exitValue() != 3, () -> "PyTorch unavailable: " + log);
    assertEquals(0, p.exitValue(), "torch.onnx.export failed:\n" + log);
  }

  /** The model name a binding reports for a foreign file (graph name, else file name). */
  private static final class BindingGeneratorNames {
    static String modelName(Path onnx) throws IOException {
      var m = ModelSummary.readModel(onnx);
      return m.getGraph().getName().isBlank() ? "tiny_torch" : m.getGraph().getName();
    }
  }
}

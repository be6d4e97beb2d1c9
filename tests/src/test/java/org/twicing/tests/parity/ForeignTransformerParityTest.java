package org.twicing.tests.parity;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Random;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.codegen.graphs.InferenceGraph;
import org.twicing.codegen.importer.ForeignModel;
import org.twicing.codegen.importer.OnnxImporter;
import org.twicing.codegen.passes.TwicingRewrite;
import org.twicing.codegen.train.CrossEntropy;
import org.twicing.codegen.train.Optimizer;
import org.twicing.codegen.train.TrainingGraphs;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.eval.Evaluator;
import org.twicing.dsl.io.Safetensors;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.nn.AttentionKind;
import org.twicing.dsl.nn.Gpt;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.dsl.nn.VisionTransformer;
import org.twicing.dsl.types.Tensor;
import org.twicing.models.cli.TwicingCli;
import org.twicing.models.data.FashionMnist;
import org.twicing.models.data.IdxFile;
import org.twicing.models.data.LabeledImages;
import org.twicing.models.training.ForeignModelSpec;
import org.twicing.runtime.train.Checkpoint;
import picocli.CommandLine;

/**
 * Foreign transformers: the reference ViT (timm layout) and GPT (nanoGPT layout) of {@code torch_reference.py},
 * exported by {@code torch.onnx.export} (opset 17, dynamic batch) with softmax and with twicing attention
 * (written in torch as {@code A @ (2V − A @ V)}), imported, and compared with PyTorch on the same weights.
 *
 * <p>Forward, gradients ({@code grads.onnx} of {@code emit --onnx}) and three AdamW steps ({@code train_step.onnx})
 * are checked twice, with relative errors max|a−b| / max|ref| per tensor. (1) The graph evaluated in float64 (our
 * evaluator, {@link Evaluator#runFloat64}) against PyTorch in float64 within {@value #TOL_F64}: every float32
 * weight and input is exact in float64, so what is left is the float32 constants baked into the export and the
 * order of float64 roundings. (2) The emitted files run in ONNX Runtime (float32) against PyTorch in float32
 * within {@value #TOL_F32} (forward and gradients): both sides round to float32 after each op and differ only in
 * summation order, whereas float32 against float64 would mostly measure float32 itself. AdamW's float32
 * parameters are compared as {@link AdamWParityTest} does (moments and losses within its tolerance, parameters
 * strictly on well-conditioned entries), since Adam divides by gradient magnitudes that float32 noise dominates
 * where they are tiny.
 */
class ForeignTransformerParityTest {
  /**
   * Float64 evaluator against float64 PyTorch. Not 1e-12: the exported file itself holds float32 constants
   * (the attention scale, GELU's √2, LayerNorm's epsilon), each within 6e-8 of the float64 value PyTorch uses.
   */
  static final double TOL_F64 = 1e-6;
  /** Three AdamW steps in float64 (see {@link #threeAdamWStepsEqualTorchOptimAdamW}). */
  static final double TOL_ADAM_F64 = 1e-5;
  /** ONNX Runtime float32 against PyTorch float32. */
  static final double TOL_F32 = 1e-5;
  static final int DEPTH = 2;
  static final int STEPS = AdamWParityTest.STEPS;
  static final double LR = 1e-3;
  static final double BETA1 = AdamWParityTest.BETA1;
  static final double BETA2 = AdamWParityTest.BETA2;
  static final double EPS = 1e-8;
  static final double WD = AdamWParityTest.WD;
  static final int HEADS = 4;

  /** One exported architecture: our (softmax) model, its weights and inputs, and PyTorch's files. */
  record Fixture(TaskModel softmax, TaskModel twicing, StateDict weights, Map<String, Tensor> inputs, Path dir) {
    Path onnx(String variant) {
      return dir.resolve(variant + ".onnx");
    }

    Map<String, Tensor> reference(String variant, String tag) throws IOException {
      return ForeignExports.reference(dir.resolve(variant + ".ref.safetensors"), tag);
    }

    Tensor input() {
      return inputs.get(softmax.inputName());
    }
  }

  static final Map<String, Fixture> FIXTURES = new LinkedHashMap<>();
  static Path root;

  static TaskModel vit(AttentionKind kind) {
    return new VisionTransformer(VisionTransformer.Config.builder("vit-foreign").imageSize(28).channels(1).patch(7)
        .classes(10).dim(32).depth(DEPTH).heads(HEADS).mlp(64).attention(kind).build());
  }

  static TaskModel gpt(AttentionKind kind) {
    return new Gpt(Gpt.Config.builder("gpt-foreign").vocab(64).context(16).dim(32).depth(DEPTH).heads(HEADS).mlp(64)
        .attention(kind).build());
  }

  @BeforeAll
  static void exportWithPyTorch() throws Exception {
    root = Files.createTempDirectory("twicing-foreign-");
    Map<String, Process> running = new LinkedHashMap<>();
    for (String kind : List.of("vit", "gpt")) {
      TaskModel softmax = kind.equals("vit") ? vit(AttentionKind.SOFTMAX) : gpt(AttentionKind.SOFTMAX);
      TaskModel twicing = kind.equals("vit") ? vit(AttentionKind.TWICING) : gpt(AttentionKind.TWICING);
      long seed = 9000 + kind.hashCode();
      StateDict w = ParityFixtures.weights(softmax, seed);
      Random rng = new Random(seed);
      Tensor x = ParityFixtures.input(softmax, 3, 16, rng);
      Tensor labels = ParityFixtures.labels(softmax, x, rng);
      Map<String, Tensor> inputs = new LinkedHashMap<>();
      inputs.put(softmax.inputName(), x);
      inputs.put("labels", labels);
      Path dir = Files.createDirectory(root.resolve(kind));
      Files.writeString(dir.resolve("config.json"), softmax.configJson());
      Safetensors.write(dir.resolve("weights.safetensors"), w.asMap(), Map.of());
      Safetensors.write(dir.resolve("inputs.safetensors"), inputs, Map.of());
      ForeignExports.writeAdamW(dir, STEPS, LR, BETA1, BETA2, EPS, WD);
      FIXTURES.put(kind, new Fixture(softmax, twicing, w, inputs, dir));
      running.put(kind, ForeignExports.start("transformer", dir));
    }
    for (Map.Entry<String, Process> e : running.entrySet()) {
      ForeignExports.await(e.getValue(), FIXTURES.get(e.getKey()).dir());
    }
  }

  @AfterAll
  static void cleanUp() throws IOException {
    if (root != null) {
      try (var files = Files.walk(root)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  /** The first example of a batch, keeping the batch axis. */
  static Tensor firstExample(Tensor t) {
    long[] shape = t.shape().clone();
    shape[0] = 1;
    return new Tensor(t.dtype(), shape, Arrays.copyOf(t.toDoubles(), (int) Tensor.numel(shape)));
  }

  static Graph imported(Fixture f, String variant) {
    try {
      return OnnxImporter.read(f.onnx(variant)).graph();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static Map<String, Tensor> logitsBoth(Graph g, Fixture f) {
    Map<String, Tensor> feeds = Map.of(f.softmax().inputName(), f.input());
    Map<String, Tensor> out = new LinkedHashMap<>();
    out.put("ort", ParityFixtures.ort(ParityFixtures.emit(g, false), feeds).get("logits"));
    out.put("f64", Evaluator.runFloat64(g, feeds).get("logits"));
    return out;
  }

  private static void compareLogits(String label, Graph g, Fixture f, String referenceVariant) throws IOException {
    Map<String, Tensor> ours = logitsBoth(g, f);
    ParityFixtures.compare(label + " (ORT f32 vs torch f32)", Map.of("ort", "logits"), ours,
        f.reference(referenceVariant, "f32"), TOL_F32);
    ParityFixtures.compare(label + " (evaluator f64 vs torch f64)", Map.of("f64", "logits"), ours,
        f.reference(referenceVariant, "f64"), TOL_F64);
  }

  @ParameterizedTest(name = "{0} {1}")
  @CsvSource({"vit, softmax", "vit, twicing", "gpt, softmax", "gpt, twicing"})
  void importedForwardEqualsPyTorch(String kind, String variant) throws IOException {
    Fixture f = FIXTURES.get(kind);
    Graph g = imported(f, variant);
    compareLogits("import " + kind + " " + variant, g, f, variant);
    // The batch axis stayed dynamic: one example alone gives the first row of the batch's logits.
    Tensor one = firstExample(f.input());
    Tensor alone = ParityFixtures.ort(ParityFixtures.emit(g, false), Map.of(f.softmax().inputName(), one))
        .get("logits");
    Tensor first = firstExample(f.reference(variant, "f32").get("logits"));
    ParityFixtures.compare("import " + kind + " " + variant + " batch 1", Map.of("a", "b"), Map.of("a", alone),
        Map.of("b", first), TOL_F32);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"vit", "gpt"})
  void rewrittenSoftmaxModelEqualsTorchTwicingAndOurTwicingModel(String kind) throws IOException {
    Fixture f = FIXTURES.get(kind);
    TwicingRewrite.Result r = TwicingRewrite.rewrite(imported(f, "softmax"));
    assertEquals(DEPTH, r.sites(), r.summary());
    assertEquals(OptionalLong.of((long) DEPTH * HEADS), r.heads(), r.summary());
    assertEquals(DEPTH, r.graph().nodes().stream().filter(n -> n.op().onnxType().equals("Softmax")).count(),
        "one Softmax per layer, shared by both products");
    compareLogits("rewritten " + kind + " vs torch twicing", r.graph(), f, "twicing");
    // Our own twicing model (the preset architecture) with the same weights, both in exact float64.
    Graph ours = InferenceGraph.build(f.twicing(), f.weights());
    Map<String, Tensor> feeds = Map.of(f.softmax().inputName(), f.input());
    Tensor expected = Evaluator.runFloat64(ours, feeds).get("logits");
    Tensor actual = Evaluator.runFloat64(r.graph(), feeds).get("logits");
    ParityFixtures.compare("rewritten " + kind + " vs our twicing model (f64)", Map.of("a", "b"),
        Map.of("a", actual), Map.of("b", expected), TOL_F64);
  }

  /** The model trained by {@code emit --onnx}/{@code train --onnx}: softmax, twicing, or softmax rewritten. */
  static ForeignModel foreign(Fixture f, String variant) {
    Graph g = variant.equals("rewritten") ? TwicingRewrite.rewrite(imported(f, "softmax")).graph()
        : imported(f, variant);
    return ForeignModel.of(g, kindOf(f) + "-" + variant, ForeignModel.Options.defaults(), Map.of());
  }

  static String kindOf(Fixture f) {
    return f.softmax() instanceof VisionTransformer ? "vit" : "gpt";
  }

  /** PyTorch's variant for ours: the rewritten softmax model must behave as the torch twicing model. */
  static String torchVariant(String variant) {
    return variant.equals("softmax") ? "softmax" : "twicing";
  }

  /** Writes model.onnx, grads.onnx and train_step.onnx as {@code emit --onnx} does. */
  static Path emitArtifacts(ForeignModel m, TrainingSpec spec) throws IOException {
    Path dir = Files.createTempDirectory(root, m.name());
    ModelArtifacts.writeAll(m, m.weights(), spec, dir, EmitOptions.defaults());
    return dir;
  }

  static TrainingSpec adamw() {
    return new TrainingSpec(CrossEntropy.defaults(), new Optimizer.AdamW(BETA1, BETA2, EPS, WD), 0.0, 0);
  }

  @ParameterizedTest(name = "{0} {1}")
  @CsvSource({"vit, softmax", "vit, twicing", "vit, rewritten", "gpt, softmax", "gpt, twicing", "gpt, rewritten"})
  void importedGradientsEqualPyTorchAutograd(String kind, String variant) throws IOException {
    Fixture f = FIXTURES.get(kind);
    ForeignModel m = foreign(f, variant);
    Path dir = emitArtifacts(m, adamw());
    Map<String, Tensor> feeds = new LinkedHashMap<>(f.inputs());
    feeds.putAll(m.weights().asMap());
    Map<String, Tensor> ort = ParityFixtures.ort(Files.readAllBytes(dir.resolve(ModelArtifacts.GRADS)), feeds);
    Map<String, String> names = new LinkedHashMap<>();
    names.put("loss", "loss");
    m.parameters().forEach(p -> names.put(p.name() + ".grad", p.name() + ".grad"));
    if (kind.equals("vit")) {
      names.put("pixels.grad", "pixels.grad");
    }
    assertEquals(f.reference(torchVariant(variant), "f64").keySet().stream().filter(k -> !k.equals("logits"))
        .collect(Collectors.toCollection(TreeSet::new)),
        new TreeSet<>(names.keySet()), "every torch parameter has an imported gradient, and no more");
    String label = "grads " + kind + " " + variant;
    ParityFixtures.compare(label + " (ORT f32 vs torch f32)", names, ort, f.reference(torchVariant(variant), "f32"),
        TOL_F32);
    Graph grads = TrainingGraphs.grads(m, m.weights(), adamw());
    ParityFixtures.compare(label + " (evaluator f64 vs torch f64)", names, Evaluator.runFloat64(grads, feeds),
        f.reference(torchVariant(variant), "f64"), TOL_F64);
  }

  @ParameterizedTest(name = "{0} {1}")
  @CsvSource({"vit, softmax", "vit, rewritten", "gpt, softmax", "gpt, rewritten"})
  void threeAdamWStepsEqualTorchOptimAdamW(String kind, String variant) throws IOException {
    Fixture f = FIXTURES.get(kind);
    ForeignModel m = foreign(f, variant);
    TrainingSpec spec = adamw();
    byte[] step = Files.readAllBytes(emitArtifacts(m, spec).resolve(ModelArtifacts.TRAIN_STEP));
    Map<String, Tensor> torch = ForeignExports.untagged(f.dir().resolve(torchVariant(variant) + ".ref.safetensors"));
    String label = "train_step " + kind + " " + variant;
    List<Map<String, Tensor>> history = new ArrayList<>();
    Map<String, Tensor> ort = AdamWParityTest.train(m, spec.optimizer(), m.weights(), f.inputs(), LR, history,
        feeds -> ParityFixtures.ort(step, feeds));
    Map<String, String> all = ParityFixtures.same(ort.keySet());
    assertEquals(new TreeSet<>(all.keySet()), new TreeSet<>(torch.keySet()),
        "losses, parameters and AdamW moments");
    Map<String, String> moments = new LinkedHashMap<>(all);
    m.parameters().forEach(p -> moments.remove(p.name()));
    ParityFixtures.compare(label + " (ORT f32) losses, moments", moments, ort, torch, AdamWParityTest.TOL);
    AdamWParityTest.compareAdamParameters(label + " (ORT f32) params", m, ort, torch, history, LR);
    // Float64: losses and moments within TOL_ADAM_F64; parameters with the same conditioning rule, since the
    // export's float32 constants perturb gradients by ~1e-8 and Adam turns that into up to lr on entries whose
    // gradient is near zero.
    Graph graph = TrainingGraphs.trainStep(m, m.weights(), spec);
    List<Map<String, Tensor>> exactHistory = new ArrayList<>();
    Map<String, Tensor> exact = AdamWParityTest.train(m, spec.optimizer(), m.weights(), f.inputs(), LR,
        exactHistory, feeds -> Evaluator.runFloat64(graph, feeds));
    ParityFixtures.compare(label + " (evaluator f64) losses, moments", moments, exact, torch, TOL_ADAM_F64);
    AdamWParityTest.compareAdamParameters(label + " (evaluator f64) params", m, exact, torch, exactHistory, LR,
        TOL_ADAM_F64);
  }

  /** Output and exit code of one in-process CLI run. */
  record Cli(int code, String out, String err) {
    static Cli run(String... args) {
      CommandLine cl = TwicingCli.commandLine();
      StringWriter out = new StringWriter();
      StringWriter err = new StringWriter();
      cl.setOut(new PrintWriter(out, true));
      cl.setErr(new PrintWriter(err, true));
      return new Cli(cl.execute(args), out.toString(), err.toString());
    }
  }

  @org.junit.jupiter.api.Test
  void emitOnnxWithAttentionTwicingRewritesReportsAndRecordsTheChoice() throws IOException {
    Fixture f = FIXTURES.get("gpt");
    Path out = Files.createTempDirectory(root, "cli");
    Cli r = Cli.run("emit", "--onnx", f.onnx("softmax").toString(), "--attention", "twicing", "--optimizer",
        "adamw", "--out", out.toString());
    assertEquals(0, r.code(), r.out() + r.err());
    assertTrue(r.out().contains("rewrote 2 softmax attention sites (8 heads) into twicing"), r.out());
    // The emitted inference model is the twicing model: torch's twicing logits, not its softmax ones.
    Map<String, Tensor> logits = ParityFixtures.ort(Files.readAllBytes(out.resolve(ModelArtifacts.MODEL)),
        Map.of(f.softmax().inputName(), f.input()));
    ParityFixtures.compare("emit --onnx --attention twicing gpt model.onnx", Map.of("logits", "logits"), logits,
        f.reference("twicing", "f32"), TOL_F32);
    // softmax keeps the model; other kinds are usage errors naming the option.
    Cli keep = Cli.run("emit", "--onnx", f.onnx("softmax").toString(), "--attention", "softmax", "--out",
        Files.createTempDirectory(root, "cli").toString());
    assertEquals(0, keep.code(), keep.out() + keep.err());
    assertTrue(keep.out().contains("softmax (kept)") && !keep.out().contains("rewrote"), keep.out());
    Cli bad = Cli.run("emit", "--onnx", f.onnx("softmax").toString(), "--attention", "twicing3", "--out",
        out.toString());
    assertEquals(TwicingCli.EXIT_USAGE, bad.code(), bad.out() + bad.err());
    assertTrue(bad.err().contains("--attention 'twicing3' is not supported on an imported model"), bad.err());
    // The run's model string carries the choice, so --resume, eval and predict rebuild the same graph.
    ForeignModelSpec spec = new ForeignModelSpec(
        f.onnx("softmax"), null, null).withAttention("twicing");
    assertEquals(spec, ForeignModelSpec.parse(spec.encode()));
    assertTrue(spec.load().config().get("attention").startsWith("rewrote 2 "), "the reloaded model is rewritten");
  }

  @org.junit.jupiter.api.Test
  void trainOnnxWithAttentionTwicingTrainsTheRewrittenModelAndResumesIt() throws IOException {
    Fixture f = FIXTURES.get("vit");
    Path data = Files.createTempDirectory(root, "fmnist");
    FashionMnist bundled = FashionMnist.loadBundledSubset();
    writeFirst(bundled.train(), 32, data, FashionMnist.TRAIN_IMAGES,
        FashionMnist.TRAIN_LABELS);
    writeFirst(bundled.test(), 16, data, FashionMnist.TEST_IMAGES,
        FashionMnist.TEST_LABELS);
    Path run = root.resolve("vit-twicing-run");
    Cli r = Cli.run("train", "--onnx", f.onnx("softmax").toString(), "--attention", "twicing", "--data-dir",
        data.toString(), "--steps", "4", "--stop-at", "2", "--batch", "8", "--eval-every", "2", "--threads", "2",
        "--out", run.toString());
    assertEquals(0, r.code(), r.out() + r.err());
    assertTrue(r.out().contains("rewrote 2 softmax attention sites (8 heads) into twicing"), r.out());
    Checkpoint c = Checkpoint.read(
        run.resolve(Checkpoint.FILE_NAME));
    assertTrue(c.meta("twicing.run.preset").endsWith("attention=twicing"), c.meta("twicing.run.preset"));
    Cli resumed = Cli.run("train", "--resume", run.toString(), "--threads", "2");
    assertEquals(0, resumed.code(), resumed.out() + resumed.err());
    assertTrue(resumed.out().contains("rewrote 2 softmax attention sites (8 heads) into twicing"), resumed.out());
    assertEquals(4, Checkpoint.read(run.resolve(
        Checkpoint.FILE_NAME)).step());
  }

  private static void writeFirst(LabeledImages all, int n, Path dir, String images,
      String labels) throws IOException {
    int[] idx = new int[n];
    for (int i = 0; i < n; i++) {
      idx[i] = i * (all.size() / n);
    }
    LabeledImages sub = all.select(idx, "first " + n);
    IdxFile.write(dir.resolve(images + ".gz"), IdxFile.IMAGES_MAGIC,
        new int[] {n, 28, 28}, sub.rawPixels(), true);
    IdxFile.write(dir.resolve(labels + ".gz"), IdxFile.LABELS_MAGIC,
        new int[] {n}, sub.rawLabels(), true);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"vit", "gpt"})
  void aModelThatIsAlreadyTwicingIsRefused(String kind) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> TwicingRewrite.rewrite(imported(FIXTURES.get(kind), "twicing")));
    assertTrue(e.getMessage().contains("left operand of 2 MatMul nodes"), e.getMessage());
  }
}

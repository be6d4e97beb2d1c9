package org.twicing.tests.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.Buffer;
import java.nio.LongBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.codegen.graphs.DecodeGraph;
import org.twicing.codegen.graphs.InferenceGraph;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.NodeProto;
import org.twicing.codegen.train.TrainingGraphs;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.io.Safetensors;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.nn.Gpt;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.models.zoo.PresetOptions;
import org.twicing.models.zoo.Zoo;
import org.twicing.runtime.ModelSession;
import org.twicing.runtime.SessionOptionsSpec;
import org.twicing.runtime.train.Batch;
import org.twicing.runtime.train.BatchSource;
import org.twicing.runtime.train.Checkpoint;
import org.twicing.runtime.train.LrSchedule;
import org.twicing.runtime.train.TrainResult;
import org.twicing.runtime.train.Trainer;
import org.twicing.runtime.train.TrainerConfig;
import org.twicing.tests.parity.ParityFixtures;
import org.twicing.tests.parity.TorchReference;

/**
 * Dropout in the training graphs, as ONNX Runtime runs them (lm-tiny, dropout {@value #RATE} at its 13 sites: after
 * the embedding, and per layer on the attention matrix, the attention output and the MLP output):
 * <ul>
 *   <li>the loss and every gradient through the masks ONNX Runtime drew match PyTorch autograd in float64 with the
 *       same masks ({@code torch_reference.py --dropout-masks}), so the 1/(1-p) scaling and the gradient through
 *       the mask are right;</li>
 *   <li>the masks keep {@code 1 - p} of the entries;</li>
 *   <li>masks change from step to step within a session and differ between sites and seeds;</li>
 *   <li>no Dropout node is left in the inference or decode graphs (or the inference model file);</li>
 *   <li>what resuming means: each ONNX Runtime session restarts the masks from the graph's seed, so a resumed run
 *       draws, in its first step, the masks of the original run's first step, not those the uninterrupted run
 *       draws at that step. A resumed run with dropout therefore continues the same training in distribution but
 *       not bit for bit (without dropout it is bit for bit; see TrainerTest). This test pins that down through
 *       the real {@link Trainer}.</li>
 * </ul>
 */
class DropoutTest {
  static final double RATE = 0.2;
  static final int B = 2;
  static final int T = 16;
  static final long SEED = 5;
  static final double TOL = 1e-4;

  private static Gpt model() {
    return (Gpt) Zoo.build("lm-tiny", PresetOptions.defaults().withDropout(RATE));
  }

  private static TrainingSpec spec(long dropoutSeed) {
    TrainingSpec d = TrainingSpec.defaults();
    return new TrainingSpec(d.loss(), d.optimizer(), 0, dropoutSeed);
  }

  /** The mask values (output 1) of {@code g}'s Dropout nodes, in node order (the order the model applies them). */
  private static List<Value> maskValues(Graph g) {
    return g.nodes().stream().filter(n -> n.op().onnxType().equals("Dropout")).map(n -> n.output(1)).toList();
  }

  /** {@code g} with every Dropout node's mask as an extra graph output (under the mask value's own name). */
  private static Graph withMaskOutputs(Graph g) {
    Map<String, Value> outputs = new LinkedHashMap<>(g.outputs());
    maskValues(g).forEach(v -> outputs.put(v.name(), v));
    return g.withNodes(g.nodes(), outputs);
  }

  private static Map<String, Tensor> feeds(Gpt m, StateDict w, long seed) {
    Random rng = new Random(seed);
    Tensor tokens = ParityFixtures.randomInts(rng, m.classes(), B, T);
    Map<String, Tensor> f = new LinkedHashMap<>();
    f.put("tokens", tokens);
    f.put(TrainingGraphs.LABELS, ParityFixtures.randomInts(rng, m.classes(), B, T));
    f.putAll(w.asMap());
    return f;
  }

  /** The masks of {@code g} in {@code out}, as float64 0/1 tensors named "dropout.k" in node order. */
  private static Map<String, Tensor> masks(Graph g, Map<String, Tensor> out) {
    Map<String, Tensor> m = new LinkedHashMap<>();
    List<Value> values = maskValues(g);
    for (int k = 0; k < values.size(); k++) {
      Tensor t = out.get(values.get(k).name());
      if (t == null) {
        throw new AssertionError("no output for the mask " + values.get(k).name());
      }
      m.put("dropout." + k, new Tensor(DType.FLOAT64, t.shape(), t.toDoubles()));
    }
    return m;
  }

  @Test
  void gradientsThroughTheDrawnMasksMatchPyTorchAndKeepOneMinusP() {
    TorchReference ref = TorchReference.get();
    Gpt m = model();
    StateDict w = ParityFixtures.weights(m, 41);
    Graph grads = TrainingGraphs.grads(m, w, spec(SEED));
    byte[] onnx = ParityFixtures.emit(withMaskOutputs(grads), true);
    Map<String, Tensor> feeds = feeds(m, w, 42);
    Map<String, Tensor> out = ParityFixtures.ort(onnx, feeds);
    Map<String, Tensor> masks = masks(grads, out);
    assertEquals(1 + 3 * m.cfg().depth(), masks.size(), "dropout sites");

    Map<String, Tensor> inputs = Map.of("tokens", feeds.get("tokens"), TrainingGraphs.LABELS,
        feeds.get(TrainingGraphs.LABELS));
    Future<Map<String, Tensor>> expected = ref.submitWithDropoutMasks(m.configJson(), w.asMap(), inputs, masks,
        "grads");

    // Keep rate over all 13 masks (~45k entries: 5 standard deviations of the binomial are about 0.01).
    long kept = 0;
    long total = 0;
    for (Tensor t : masks.values()) {
      for (double v : t.toDoubles()) {
        kept += v != 0 ? 1 : 0;
      }
      total += t.size();
    }
    double keep = (double) kept / total;
    double sd = Math.sqrt(RATE * (1 - RATE) / total);
    System.out.printf(Locale.ROOT, "[dropout] keep rate %.4f over %d mask entries (expected %.2f, sd %.4f)%n",
        keep, total, 1 - RATE, sd);
    assertEquals(1 - RATE, keep, 5 * sd, "fraction of kept entries");

    List<String> names = new ArrayList<>(List.of("loss"));
    m.parameters().forEach(p -> names.add(p.name() + ".grad"));
    ParityFixtures.compare("grads lm-tiny dropout " + RATE + " (fixed masks, ORT f32)", ParityFixtures.same(names),
        out, TorchReference.await(expected), TOL);
  }

  @Test
  void masksChangePerStepDifferBySiteAndSeedAndRestartWithEachSession() {
    Gpt m = model();
    StateDict w = ParityFixtures.weights(m, 43);
    Map<String, Tensor> feeds = feeds(m, w, 44);
    Graph grads = TrainingGraphs.grads(m, w, spec(SEED));
    byte[] seed5 = ParityFixtures.emit(withMaskOutputs(grads), true);
    Map<String, Tensor> step1;
    Map<String, Tensor> step2;
    try (ModelSession s = ModelSession.open(seed5)) {
      step1 = s.runHost(feeds);
      step2 = s.runHost(feeds);
    }
    Map<String, Tensor> m1 = masks(grads, step1);
    Map<String, Tensor> m2 = masks(grads, step2);
    for (String k : m1.keySet()) {
      assertFalse(Arrays.equals(m1.get(k).toDoubles(), m2.get(k).toDoubles()), k + ": the next step draws a new mask");
    }
    assertNotEquals(step1.get("loss").get(0), step2.get("loss").get(0), "same batch, other masks, other loss");
    // Sites of one shape still draw different masks (each node has its own seed).
    assertFalse(Arrays.equals(m1.get("dropout.2").toDoubles(), m1.get("dropout.3").toDoubles()), "sites differ");

    Map<String, Tensor> fresh = masks(grads, ParityFixtures.ort(seed5, feeds));
    for (String k : m1.keySet()) {
      assertArrayEquals(m1.get(k).toDoubles(), fresh.get(k).toDoubles(), k + ": a new session restarts from the seed");
    }
    Graph otherSeed = TrainingGraphs.grads(m, w, spec(SEED + 1));
    Map<String, Tensor> other = masks(otherSeed, ParityFixtures.ort(ParityFixtures.emit(withMaskOutputs(otherSeed),
        true), feeds));
    assertFalse(Arrays.equals(m1.get("dropout.0").toDoubles(), other.get("dropout.0").toDoubles()), "another seed");
  }

  @Test
  void noDropoutInInferenceOrDecodeGraphs() {
    Gpt m = model();
    StateDict w = StateDict.initialize(m, 0);
    assertTrue(hasDropout(TrainingGraphs.trainStep(m, w, spec(SEED))), "the training graph has dropout");
    assertFalse(hasDropout(InferenceGraph.build(m, w)), "inference graph");
    assertFalse(hasDropout(DecodeGraph.build(m, w)), "decode graph");
    ModelProto file = ModelArtifacts.inferenceModel(m, w, TrainingGraphs.trainStep(m, w, spec(SEED)),
        EmitOptions.defaults());
    assertTrue(file.getGraph().getNodeList().stream().noneMatch(n -> n.getOpType().equals("Dropout")),
        "model.onnx's graph");
    assertTrue(file.getTrainingInfo(0).getAlgorithm().getNodeList().stream().map(NodeProto::getOpType)
        .anyMatch("Dropout"::equals), "its training_info keeps the training step's dropout");
    assertTrue(OnnxEmitter.emit(DecodeGraph.build(m, w), EmitOptions.defaults()).getGraph().getNodeList().stream()
        .noneMatch(n -> n.getOpType().equals("Dropout")), "decode.onnx");
    // And the inference graph computes the same with the dropout rate set or not.
    Gpt plain = (Gpt) Zoo.build("lm-tiny", PresetOptions.defaults().withDropout(0.0));
    Tensor tokens = ParityFixtures.randomInts(new Random(1), m.classes(), B, T);
    assertArrayEquals(
        ParityFixtures.ort(ParityFixtures.emit(InferenceGraph.build(plain, w), false), Map.of("tokens", tokens))
            .get("logits").toDoubles(),
        ParityFixtures.ort(ParityFixtures.emit(InferenceGraph.build(m, w), false), Map.of("tokens", tokens))
            .get("logits").toDoubles(), 0.0);
  }

  private static boolean hasDropout(Graph g) {
    return g.nodes().stream().anyMatch(n -> n.op().onnxType().equals("Dropout"));
  }

  @Test
  void resumingARunWithDropoutRestartsTheMasksFromTheSeed(@TempDir Path tmp) throws Exception {
    Gpt m = model();
    StateDict w = ParityFixtures.weights(m, 45);
    TrainResult full = new Trainer(config(m, w, tmp.resolve("full")).build()).train(new Tokens(m));
    Path run = tmp.resolve("resumed");
    TrainResult first = new Trainer(config(m, w, run).stopAt(2).build()).train(new Tokens(m));
    Path ckpt = run.resolve(Checkpoint.FILE_NAME);
    Map<String, Tensor> state = Safetensors.read(ckpt).tensors();
    TrainResult second = new Trainer(config(m, w, run).resumeFrom(ckpt).build()).train(new Tokens(m));
    assertArrayEquals(Arrays.copyOfRange(full.losses(), 0, 2), first.losses(), 0f, "same start, same masks");
    assertEquals(2, second.startStep());

    // The resumed step 3 is exactly a fresh session's first step (masks from the seed) on the checkpoint.
    Map<String, Tensor> feeds = new LinkedHashMap<>(state);
    Batch b3 = new Tokens(m).at(2);
    feeds.put("tokens", tokens(b3.input().rewind(), b3.inputShape()));
    feeds.put(TrainingGraphs.LABELS, tokens(b3.labels().rewind(), b3.labelShape()));
    feeds.put(TrainingGraphs.LR, Tensor.scalar(DType.FLOAT32, LR));
    feeds.put(TrainingGraphs.STEP, Tensor.scalar(DType.INT64, 3));
    byte[] step = OnnxEmitter.emit(TrainingGraphs.trainStep(m, w, spec(SEED)),
        EmitOptions.builder().parametersAsInputs(true).build()).toByteArray();
    float freshFirst;
    float freshSecond;
    try (ModelSession s = ModelSession.open(step, ONE_THREAD)) {
      freshFirst = (float) s.runHost(feeds).get("loss").get(0);
      freshSecond = (float) s.runHost(feeds).get("loss").get(0);
    }
    System.out.printf(Locale.ROOT, "[dropout] step 3 loss: uninterrupted %.6f, resumed %.6f, fresh session's "
        + "first step %.6f, its second %.6f%n", full.losses()[2], second.losses()[0], freshFirst, freshSecond);
    assertEquals(freshFirst, second.losses()[0], 0f, "resumed step 3 = first masks of a new session");
    assertNotEquals(full.losses()[2], second.losses()[0], "the uninterrupted run drew other masks at step 3");
    assertNotEquals(freshSecond, second.losses()[0], "the masks of a session's second step differ");
  }

  static final float LR = 1e-3f;
  static final SessionOptionsSpec ONE_THREAD = SessionOptionsSpec.builder().intraOpThreads(1).interOpThreads(1)
      .build();

  private static TrainerConfig.Builder config(Gpt m, StateDict w, Path dir) {
    return TrainerConfig.builder(m).runDir(dir).steps(4).initialWeights(w).spec(spec(SEED))
        .sessionOptions(ONE_THREAD).schedule(LrSchedule.constant(LR))
        .out(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8)).progressBar(false)
        .finalArtifacts(false);
  }

  private static Tensor tokens(Buffer buf, long[] shape) {
    LongBuffer lb = (LongBuffer) buf;
    double[] d = new double[lb.remaining()];
    for (int i = 0; i < d.length; i++) {
      d[i] = lb.get(i);
    }
    return new Tensor(DType.INT64, shape, d);
  }

  /** Endless seeded token batches; the position is the batch index. */
  private static final class Tokens implements BatchSource {
    private final Gpt model;
    private long next;

    Tokens(Gpt model) {
      this.model = model;
    }

    Batch at(long i) {
      Random rng = new Random(1000 + i);
      long[] in = new long[B * T];
      long[] labels = new long[B * T];
      for (int k = 0; k < in.length; k++) {
        in[k] = Math.floorMod(rng.nextLong(), model.classes());
        labels[k] = Math.floorMod(rng.nextLong(), model.classes());
      }
      return Batch.ofLongs(in, new long[] {B, T}, labels, new long[] {B, T}, B, Long.toString(i + 1), 0);
    }

    @Override
    public Batch next() {
      return at(next++);
    }

    @Override
    public String position() {
      return Long.toString(next);
    }

    @Override
    public void seek(String position) {
      next = Long.parseLong(position);
    }

    @Override
    public String describe() {
      return "seeded token batches";
    }
  }
}

package org.twicing.runtime.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.codegen.train.CrossEntropy;
import org.twicing.codegen.train.Optimizer;
import org.twicing.codegen.train.TrainingGraphs;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.io.SafetensorsEntry;
import org.twicing.dsl.nn.AttentionKind;
import org.twicing.dsl.nn.Param;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.VisionTransformer;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.runtime.ModelSession;
import org.twicing.runtime.SessionOptionsSpec;
import org.twicing.runtime.Tensors;

/** The trainer on a tiny ViT and synthetic images: exactness, resume, checkpoints, divergence, files. */
class TrainerTest {
  private static final SessionOptionsSpec ONE_THREAD = SessionOptionsSpec.builder().intraOpThreads(1)
      .interOpThreads(1).build();
  private static final PrintStream QUIET = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);

  @TempDir
  Path tmp;

  private static TrainerConfig.Builder config(VisionTransformer model, Path dir, long steps) {
    return TrainerConfig.builder(model).runDir(dir).steps(steps).seed(3).sessionOptions(ONE_THREAD)
        .schedule(LrSchedule.warmupCosine(2e-3, 10, steps, 1e-5)).out(QUIET).progressBar(false)
        .finalArtifacts(false);
  }

  /** Accuracy of the model on a fixed synthetic batch. */
  static Evaluator accuracy() {
    return (runner, full) -> {
      Batch b = TinyVit.Source.make(10_000, full ? 128 : 64, 99, false);
      float[] logits;
      try (OnnxTensor in = Tensors.fromBuffer((FloatBuffer) b.input(), b.inputShape())) {
        logits = runner.logits(in);
      }
      int correct = 0;
      for (int i = 0; i < b.examples(); i++) {
        int best = 0;
        for (int c = 1; c < 4; c++) {
          if (logits[i * 4 + c] > logits[i * 4 + best]) {
            best = c;
          }
        }
        correct += best == b.labels().get(i) ? 1 : 0;
      }
      Map<String, Double> m = new LinkedHashMap<>();
      m.put("accuracy", correct / (double) b.examples());
      return m;
    };
  }

  @Test
  void lossSequenceEqualsChainingTheTrainStepByHand() throws IOException {
    VisionTransformer model = TinyVit.model();
    StateDict w = StateDict.initialize(model, 3);
    TrainingSpec spec = TrainingSpec.defaults();
    LrSchedule schedule = LrSchedule.warmupCosine(2e-3, 2, 6, 1e-5);
    int steps = 6;
    float[] expected = new float[steps];
    byte[] bytes = OnnxEmitter.emit(TrainingGraphs.trainStep(model, w, spec),
        EmitOptions.builder().parametersAsInputs(true).build()).toByteArray();
    try (ModelSession s = ModelSession.open(bytes, ONE_THREAD)) {
      Map<String, Tensor> cur = new LinkedHashMap<>();
      for (Param p : model.parameters()) {
        cur.put(p.name(), w.get(p.name()));
        for (String st : spec.optimizer().stateNames()) {
          cur.put(p.name() + "." + st, Tensor.zeros(DType.FLOAT32, p.shape()));
        }
      }
      for (int i = 0; i < steps; i++) {
        Batch b = TinyVit.Source.make(i, 8, 1, false);
        float[] px = new float[b.input().remaining()];
        ((FloatBuffer) b.input()).get(px);
        long[] labels = new long[b.labels().remaining()];
        b.labels().get(labels);
        Map<String, Tensor> feeds = new LinkedHashMap<>(cur);
        feeds.put("pixels", Tensor.floats(b.inputShape(), px));
        double[] l = new double[labels.length];
        for (int k = 0; k < l.length; k++) {
          l[k] = labels[k];
        }
        feeds.put("labels", new Tensor(DType.INT64, b.labelShape(), l));
        feeds.put("lr", Tensor.scalar(DType.FLOAT32, (float) schedule.at(i + 1)));
        feeds.put("step", Tensor.scalar(DType.INT64, i + 1));
        Map<String, Tensor> out = s.runHost(feeds);
        expected[i] = (float) out.get("loss").get(0);
        for (String k : cur.keySet()) {
          cur.put(k, out.get(k + ".next"));
        }
      }
    }
    TrainResult r = new Trainer(config(model, tmp.resolve("run"), steps).schedule(schedule).initialWeights(w)
        .build()).train(new TinyVit.Source(8));
    assertArrayEquals(expected, r.losses(), 0f);
    assertEquals(steps, r.endStep());
    assertEquals(steps * 8, r.samples());
  }

  @Test
  void resumingContinuesExactly() throws IOException {
    VisionTransformer model = TinyVit.model();
    Path a = tmp.resolve("a");
    Path b = tmp.resolve("b");
    TrainResult full = new Trainer(config(model, a, 200).build()).train(new TinyVit.Source(8));
    TrainResult first = new Trainer(config(model, b, 200).stopAt(100).build()).train(new TinyVit.Source(8));
    assertEquals(100, first.endStep());
    assertEquals(100, Checkpoint.read(b.resolve(Checkpoint.FILE_NAME)).step());
    TrainResult second = new Trainer(config(model, b, 200).resumeFrom(b.resolve(Checkpoint.FILE_NAME)).build())
        .train(new TinyVit.Source(8));
    assertEquals(100, second.startStep());
    assertEquals(200, second.endStep());
    assertArrayEquals(Arrays.copyOfRange(full.losses(), 100, 200), second.losses(), 0f);
    assertArrayEquals(Arrays.copyOfRange(full.losses(), 0, 100), first.losses(), 0f);
    Checkpoint ca = Checkpoint.read(a.resolve(Checkpoint.FILE_NAME));
    Checkpoint cb = Checkpoint.read(b.resolve(Checkpoint.FILE_NAME));
    assertEquals(200, ca.step());
    assertEquals(200, cb.step());
    assertEquals(ca.dataPosition(), cb.dataPosition());
    assertEquals(ca.entries().keySet(), cb.entries().keySet());
    StateDict pa = ca.parameters(model);
    StateDict pb = cb.parameters(model);
    for (Param p : model.parameters()) {
      assertArrayEquals(pa.get(p.name()).toDoubles(), pb.get(p.name()).toDoubles(), 0.0, p.name());
    }
    // Optimizer state too, byte for byte.
    assertArrayEquals(Files.readAllBytes(a.resolve(Checkpoint.FILE_NAME)),
        Files.readAllBytes(b.resolve(Checkpoint.FILE_NAME)));
    // The metrics log continues without repeating steps.
    List<Map<String, Double>> lines = MetricsLog.read(b.resolve(MetricsLog.FILE_NAME));
    assertEquals(200, lines.size());
    for (int i = 0; i < 200; i++) {
      assertEquals(i + 1, lines.get(i).get("step"));
    }
  }

  @Test
  void interruptedCheckpointWriteLeavesThePreviousOneIntact() throws IOException {
    VisionTransformer model = TinyVit.model();
    Path run = tmp.resolve("run");
    new Trainer(config(model, run, 3).build()).train(new TinyVit.Source(4));
    Path file = run.resolve(Checkpoint.FILE_NAME);
    byte[] before = Files.readAllBytes(file);
    Map<String, Checkpoint.Streamed> sources = new LinkedHashMap<>();
    sources.put("a", new Checkpoint.Streamed(DType.FLOAT32, new long[] {1024}, out -> {
      out.write(ByteBuffer.allocate(2048)); // half of the tensor...
      throw new IOException("No space left on device (simulated)"); // ...then the disk fills up
    }));
    sources.put("b", new Checkpoint.Streamed(DType.FLOAT32, new long[] {4}, out -> out.write(ByteBuffer.allocate(16))));
    IOException e = assertThrows(IOException.class, () -> Checkpoint.writeStreamed(file, sources,
        Map.of(Checkpoint.KEY_FORMAT, Checkpoint.FORMAT)));
    assertTrue(e.getMessage().contains("simulated"), e.getMessage());
    assertArrayEquals(before, Files.readAllBytes(file));
    assertEquals(3, Checkpoint.read(file).step());
    try (Stream<Path> files = Files.list(run)) {
      List<String> names = files.map(p -> p.getFileName().toString()).sorted().toList();
      assertFalse(names.stream().anyMatch(n -> n.endsWith(".tmp") || n.startsWith(".")), names.toString());
    }
  }

  @Test
  void aFailingBatchSourceStopsTrainingWithTheLastCheckpointIntact() throws IOException {
    VisionTransformer model = TinyVit.model();
    Path run = tmp.resolve("run");
    BatchSource failing = new TinyVit.Source(4) {
      private int calls;

      @Override
      public Batch next() {
        if (++calls == 8) {
          throw new IllegalStateException("disk read error in batch 8 (simulated)");
        }
        return super.next();
      }
    };
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> new Trainer(config(model, run, 20).checkpointEvery(5).build()).train(failing));
    assertTrue(e.getMessage().contains("simulated"));
    Checkpoint c = Checkpoint.read(run.resolve(Checkpoint.FILE_NAME));
    assertEquals(5, c.step());
    assertEquals("5", c.dataPosition());
  }

  @Test
  void nanLossStopsTrainingAndKeepsTheLastGoodCheckpoint() throws IOException {
    VisionTransformer model = TinyVit.model();
    Path run = tmp.resolve("run");
    TrainerConfig cfg = config(model, run, 20).checkpointEvery(5).finalArtifacts(true).build();
    TrainingDivergedException e = assertThrows(TrainingDivergedException.class,
        () -> new Trainer(cfg).train(new TinyVit.Source(4, 1, 8)));
    assertEquals(8, e.step());
    assertEquals(5, e.lastCheckpointStep());
    assertTrue(e.getMessage().contains("loss is NaN at step 8"), e.getMessage());
    assertTrue(e.getMessage().contains(run.resolve(Checkpoint.FILE_NAME) + " (step 5), was kept"), e.getMessage());
    assertEquals(5, Checkpoint.read(run.resolve(Checkpoint.FILE_NAME)).step());
    assertFalse(Files.exists(run.resolve(Trainer.MODEL_FILE)));
  }

  @Test
  void hugeLearningRateDivergesWithoutWritingTheBadState() throws IOException {
    VisionTransformer model = TinyVit.model();
    Path run = tmp.resolve("run");
    new Trainer(config(model, run, 4).build()).train(new TinyVit.Source(4));
    byte[] good = Files.readAllBytes(run.resolve(Checkpoint.FILE_NAME));
    TrainerConfig cfg = config(model, run, 40).schedule(LrSchedule.constant(1e30)).checkpointEvery(2)
        .spec(new TrainingSpec(CrossEntropy.defaults(),
            new Optimizer.Sgd(0.0, 0.0), 0, 0)).build();
    Path other = tmp.resolve("other");
    TrainingDivergedException e = assertThrows(TrainingDivergedException.class,
        () -> new Trainer(TrainerConfig.builder(model).runDir(other).steps(40).seed(3).sessionOptions(ONE_THREAD)
            .schedule(LrSchedule.constant(1e30)).checkpointEvery(2).spec(cfg.spec()).out(QUIET).progressBar(false)
            .build()).train(new TinyVit.Source(4)));
    assertTrue(e.getMessage().startsWith("training diverged: "), e.getMessage());
    assertTrue(e.step() <= 3, "diverged at step " + e.step());
    if (e.lastCheckpointStep() >= 0) {
      Checkpoint kept = Checkpoint.read(other.resolve(Checkpoint.FILE_NAME));
      assertEquals(e.lastCheckpointStep(), kept.step());
    } else {
      assertFalse(Files.exists(other.resolve(Checkpoint.FILE_NAME)));
    }
    assertArrayEquals(good, Files.readAllBytes(run.resolve(Checkpoint.FILE_NAME)));
  }

  @Test
  void writesMetricsCurvesAndATrainedModelThatMatchesTheEvaluation() throws Exception {
    VisionTransformer model = TinyVit.model();
    Path run = tmp.resolve("run");
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    TrainResult r = new Trainer(config(model, run, 30).evaluator(accuracy()).evalEvery(10).checkpointEvery(15)
        .finalArtifacts(true).metadata("run.note", "test").out(new PrintStream(log, true, StandardCharsets.UTF_8))
        .build()).train(new TinyVit.Source(16));
    // Quiet mode: one line per evaluation (steps 10, 20 and the final one at 30), no carriage returns.
    String printed = log.toString(StandardCharsets.UTF_8);
    assertEquals(3, printed.lines().count(), printed);
    assertFalse(printed.contains("\r"));
    assertTrue(printed.lines().allMatch(l -> l.contains("eval accuracy")), printed);
    List<Map<String, Double>> lines = MetricsLog.read(run.resolve(MetricsLog.FILE_NAME));
    assertEquals(30, lines.size());
    for (Map<String, Double> m : lines) {
      for (String k : List.of("step", "epoch", "loss", "lr", "samples_per_s")) {
        assertTrue(m.containsKey(k) && Double.isFinite(m.get(k)), k + " in " + m);
      }
      assertEquals(m.get("step") % 10 == 0, m.containsKey("eval_accuracy"), m.toString());
    }
    for (String line : Files.readAllLines(run.resolve(MetricsLog.FILE_NAME))) {
      assertTrue(line.startsWith("{\"step\":") && line.endsWith("}"), line);
    }
    Path png = run.resolve(Curves.FILE_NAME);
    byte[] bytes = Files.readAllBytes(png);
    assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, Arrays.copyOf(bytes, 8));
    assertNotNull(ImageIO.read(png.toFile()));
    assertEquals(30, Checkpoint.read(run.resolve(Checkpoint.FILE_NAME)).step());
    assertEquals("test", Checkpoint.read(run.resolve(Checkpoint.FILE_NAME)).meta("run.note"));
    // The model file holds the trained weights: evaluating it gives the trainer's final metric.
    double finalAcc = r.finalMetrics().get("accuracy");
    assertEquals(finalAcc, lines.get(29).get("eval_accuracy"), 0.0);
    try (ModelSession s = ModelSession.open(run.resolve(Trainer.MODEL_FILE), ONE_THREAD)) {
      assertEquals(1, s.inputs().size());
      Map<String, Double> m = accuracy().evaluate(InferenceRunner.of(s, "pixels"), true);
      assertEquals(finalAcc, m.get("accuracy"), 1e-9);
    }
  }

  @Test
  void progressBarRedrawsInPlaceWhenEnabled() throws IOException {
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    new Trainer(config(TinyVit.model(), tmp.resolve("bar"), 6).evaluator(accuracy()).evalEvery(3).progressBar(true)
        .out(new PrintStream(log, true, StandardCharsets.UTF_8)).build()).train(new TinyVit.Source(4));
    String printed = log.toString(StandardCharsets.UTF_8);
    assertTrue(printed.contains("\rstep "), printed);
    assertTrue(printed.contains("samples/s") && printed.contains("lr ") && printed.contains("loss "), printed);
    assertTrue(printed.contains("step 6/6 [########################] 100%"), printed);
    // Evaluation lines are printed on their own lines between redraws.
    assertEquals(2, printed.lines().filter(l -> l.contains("eval accuracy")).count(), printed);
    assertTrue(printed.endsWith("\n"), printed);
  }

  @Test
  void checkpointFromAnotherModelIsRejectedNamingTheFileAndTensor() throws IOException {
    Path run = tmp.resolve("run");
    new Trainer(config(TinyVit.model(), run, 2).build()).train(new TinyVit.Source(4));
    Path file = run.resolve(Checkpoint.FILE_NAME);
    Checkpoint c = Checkpoint.read(file);
    VisionTransformer wider = TinyVit.model(48);
    CheckpointMismatchException e = assertThrows(CheckpointMismatchException.class,
        () -> c.requireFits(wider, TrainingSpec.defaults()));
    assertTrue(e.getMessage().startsWith(file.toString()), e.getMessage());
    assertTrue(e.tensor().isPresent());
    assertTrue(e.getMessage().contains("'" + e.tensor().get() + "'"), e.getMessage());
    assertTrue(e.getMessage().contains("[1, 1, 32]") && e.getMessage().contains("[1, 1, 48]"), e.getMessage());
    // Same shapes, different attention: the configuration check names the key.
    VisionTransformer softmax = new VisionTransformer(VisionTransformer.Config.builder("tiny-vit").imageSize(28)
        .channels(1).patch(7).classes(4).dim(32).depth(2).heads(2).mlp(64).attention(AttentionKind.SOFTMAX).build());
    CheckpointMismatchException e2 = assertThrows(CheckpointMismatchException.class,
        () -> c.requireFits(softmax, TrainingSpec.defaults()));
    assertTrue(e2.getMessage().contains("attention is [twicing, twicing] in the checkpoint"), e2.getMessage());
    // Another optimizer: its state tensors are missing.
    TrainingSpec sgd = new TrainingSpec(CrossEntropy.defaults(),
        new Optimizer.Sgd(0.9, 0), 0, 0);
    CheckpointMismatchException e3 = assertThrows(CheckpointMismatchException.class,
        () -> new Trainer(config(TinyVit.model(), run, 4).spec(sgd).resumeFrom(file).build())
            .train(new TinyVit.Source(4)));
    assertTrue(e3.getMessage().contains(".momentum'"), e3.getMessage());
    // Not a checkpoint at all.
    Path junk = tmp.resolve("junk.safetensors");
    Files.write(junk, new byte[] {1, 2, 3});
    IOException e4 = assertThrows(IOException.class, () -> Checkpoint.read(junk));
    assertTrue(e4.getMessage().contains(junk.toString()), e4.getMessage());
    for (SafetensorsEntry entry : c.entries().values()) {
      assertEquals(DType.FLOAT32, entry.dtype());
    }
  }
}

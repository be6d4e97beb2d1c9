package org.twicing.tests.parity;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.codegen.importer.ForeignModel;
import org.twicing.codegen.importer.OnnxImporter;
import org.twicing.codegen.train.TrainingGraphs;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.eval.Evaluator;
import org.twicing.dsl.io.Safetensors;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.models.cli.TwicingCli;
import org.twicing.models.data.FashionMnist;
import org.twicing.models.data.IdxFile;
import org.twicing.models.data.LabeledImages;
import org.twicing.runtime.train.MetricsLog;
import picocli.CommandLine;

/**
 * A small CNN exported by PyTorch ({@code onnx_export_reference.py cnn}: Conv with padding, Conv with stride 2,
 * BatchNormalization with batch statistics, ReLU, MaxPool, AveragePool, Linear; exported in training mode so that
 * BatchNormalization stays a node), imported and trained. Its gradients on 16 Fashion-MNIST images equal
 * {@code torch.autograd} of the same module in {@code train()} mode (float32 in ONNX Runtime against float32 torch
 * within {@value #TOL_F32_CNN}; our float64 evaluator against float64 torch within {@value #TOL_F64}), and
 * {@code twicing train --onnx} on the bundled Fashion-MNIST subset lowers its loss.
 */
class ForeignCnnTest {
  /**
   * ONNX Runtime float32 against PyTorch float32. Looser than for the transformers: BatchNormalization's backward
   * with batch statistics subtracts per-channel means over 16·28·28 positions, so float32 summation-order noise
   * is amplified by cancellation (measured 2.3e-5 on conv1.weight); the float64 check stays at {@value #TOL_F64}.
   */
  static final double TOL_F32_CNN = 1e-4;
  /** Our float64 evaluator against PyTorch float64 (the export holds float32 constants, e.g. BN's epsilon). */
  static final double TOL_F64 = 1e-6;
  static final int BATCH = 16;
  static final int TRAIN_STEPS = 60;

  static Path dir;
  static Map<String, Tensor> inputs;
  static FashionMnist bundled;

  @BeforeAll
  static void exportWithPyTorch() throws Exception {
    dir = Files.createTempDirectory("twicing-foreign-cnn-");
    bundled = FashionMnist.loadBundledSubset();
    LabeledImages train = bundled.train();
    float[] px = new float[BATCH * 28 * 28];
    double[] labels = new double[BATCH];
    for (int i = 0; i < BATCH; i++) {
      int idx = i * (train.size() / BATCH) + 7;
      train.copyNormalizedImage(idx, px, i * 28 * 28);
      labels[i] = train.label(idx);
    }
    inputs = new LinkedHashMap<>();
    inputs.put("pixels", Tensor.floats(new long[] {BATCH, 1, 28, 28}, px));
    inputs.put("labels", new Tensor(DType.INT64, new long[] {BATCH}, labels));
    Safetensors.write(dir.resolve("inputs.safetensors"), inputs, Map.of());
    Files.writeString(dir.resolve("seed.txt"), "11");
    ForeignExports.await(ForeignExports.start("cnn", dir), dir);
  }

  @AfterAll
  static void cleanUp() throws IOException {
    if (dir != null) {
      try (var files = Files.walk(dir)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  static ForeignModel model() throws IOException {
    return ForeignModel.of(OnnxImporter.read(dir.resolve("cnn.onnx")), "cnn", ForeignModel.Options.defaults(),
        Map.of());
  }

  @Test
  void gradientsEqualPyTorchAutogradInTrainMode() throws IOException {
    ForeignModel m = model();
    Graph imported = m.graph();
    for (String op : List.of("Conv", "BatchNormalization", "MaxPool", "AveragePool")) {
      assertTrue(imported.nodes().stream().anyMatch(n -> n.op().onnxType().equals(op)
          || n.name().contains("/" + op)), "the export holds " + op);
    }
    Path out = Files.createTempDirectory(dir, "emit");
    ModelArtifacts.writeAll(m, m.weights(), TrainingSpec.defaults(), out, EmitOptions.defaults());
    Map<String, Tensor> feeds = new LinkedHashMap<>(inputs);
    feeds.putAll(m.weights().asMap());
    Map<String, String> names = new LinkedHashMap<>();
    names.put("loss", "loss");
    m.parameters().forEach(p -> names.put(p.name() + ".grad", p.name() + ".grad"));
    names.put("pixels.grad", "pixels.grad");
    Map<String, Tensor> f32 = ForeignExports.reference(dir.resolve("cnn.ref.safetensors"), "f32");
    Map<String, Tensor> f64 = ForeignExports.reference(dir.resolve("cnn.ref.safetensors"), "f64");
    assertEquals(new TreeSet<>(f64.keySet()), new TreeSet<>(names.keySet()),
        "every torch parameter (running statistics are buffers, imported as constants) has a gradient");
    Map<String, Tensor> ort = ParityFixtures.ort(Files.readAllBytes(out.resolve(ModelArtifacts.GRADS)), feeds);
    Graph grads = TrainingGraphs.grads(m, m.weights(), TrainingSpec.defaults());
    Map<String, Tensor> exact = Evaluator.runFloat64(grads, feeds);
    // A convolution bias right before batch-statistics BatchNormalization cannot change the output (the batch
    // mean absorbs it), so its true gradient is zero and every computed value is rounding noise: it is checked
    // to be zero at the noise level of its layer, and left out of the relative comparison.
    for (String conv : List.of("conv1", "conv2")) {
      String bias = conv + ".bias.grad";
      names.remove(bias);
      double scale = ParityFixtures.maxAbs(f64.get(conv + ".weight.grad"));
      assertTrue(ParityFixtures.maxAbs(f64.get(bias)) <= 1e-12 * scale, "torch: " + bias + " is zero");
      assertTrue(ParityFixtures.maxAbs(exact.get(bias)) <= 1e-12 * scale, "evaluator: " + bias + " is zero");
      assertTrue(ParityFixtures.maxAbs(ort.get(bias)) <= 1e-5 * scale, "ORT: " + bias + " is zero up to float32 "
          + "noise: " + ParityFixtures.maxAbs(ort.get(bias)) + " vs " + conv + ".weight.grad " + scale);
    }
    ParityFixtures.compare("grads cnn (evaluator f64 vs torch f64)", names, exact, f64, TOL_F64);
    ParityFixtures.compare("grads cnn (ORT f32 vs torch f32)", names, ort, f32, TOL_F32_CNN);
  }

  @Test
  void trainOnnxLowersTheLossOnFashionMnist() throws IOException {
    Path data = dir.resolve("fmnist");
    Files.createDirectories(data);
    write(bundled.train(), data, FashionMnist.TRAIN_IMAGES, FashionMnist.TRAIN_LABELS);
    write(bundled.test(), data, FashionMnist.TEST_IMAGES, FashionMnist.TEST_LABELS);
    Path run = dir.resolve("run");
    CommandLine cl = TwicingCli.commandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    int code = cl.execute("train", "--onnx", dir.resolve("cnn.onnx").toString(), "--data-dir", data.toString(),
        "--steps", Integer.toString(TRAIN_STEPS), "--batch", "32", "--lr", "3e-3", "--eval-every",
        Integer.toString(TRAIN_STEPS), "--threads", "2", "--seed", "1", "--out", run.toString());
    assertEquals(0, code, out + "\n" + err);
    assertTrue(out.toString().contains("model: cnn.onnx (imported)"), out.toString());
    List<Map<String, Double>> log = MetricsLog.read(run.resolve(MetricsLog.FILE_NAME));
    double[] losses = log.stream().filter(r -> r.containsKey("loss") && !Double.isNaN(r.get("loss")))
        .mapToDouble(r -> r.get("loss")).toArray();
    assertEquals(TRAIN_STEPS, losses.length, "one loss per step");
    double first = mean(losses, 0, 5);
    double last = mean(losses, TRAIN_STEPS - 10, TRAIN_STEPS);
    System.out.printf(Locale.ROOT, "[learning] imported CNN on Fashion-MNIST: mean loss of steps 1-5 %.4f, of "
        + "steps %d-%d %.4f%n", first, TRAIN_STEPS - 9, TRAIN_STEPS, last);
    assertTrue(first > 1.5, "an untrained 10-class model starts near ln 10: " + first);
    assertTrue(last < 0.75 * first, "the loss fell: " + first + " -> " + last);
  }

  @Test
  void attentionTwicingOnAModelWithoutAttentionIsAnError() {
    CommandLine cl = TwicingCli.commandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    int code = cl.execute("emit", "--onnx", dir.resolve("cnn.onnx").toString(), "--attention", "twicing", "--out",
        dir.resolve("never").toString());
    assertEquals(TwicingCli.EXIT_FAILURE, code, out.toString());
    String e = err.toString().strip();
    assertEquals(1, e.lines().count(), e);
    assertTrue(e.contains("cnn.onnx") && e.contains("has no softmax attention"), e);
    assertTrue(Files.notExists(dir.resolve("never").resolve(ModelArtifacts.MODEL)), "nothing written");
  }

  private static double mean(double[] a, int from, int to) {
    double s = 0;
    for (int i = from; i < to; i++) {
      s += a[i];
    }
    return s / (to - from);
  }

  private static void write(LabeledImages all, Path dir, String images, String labels) throws IOException {
    IdxFile.write(dir.resolve(images + ".gz"), IdxFile.IMAGES_MAGIC, new int[] {all.size(), 28, 28},
        all.rawPixels(), true);
    IdxFile.write(dir.resolve(labels + ".gz"), IdxFile.LABELS_MAGIC, new int[] {all.size()}, all.rawLabels(), true);
  }
}

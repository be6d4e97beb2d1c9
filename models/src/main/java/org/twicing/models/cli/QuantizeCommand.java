package org.twicing.models.cli;

import ai.onnxruntime.OnnxTensor;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.quant.Int8Quantizer;
import org.twicing.dsl.io.AtomicDirectory;
import org.twicing.dsl.io.AtomicFile;
import org.twicing.models.bench.Alternation;
import org.twicing.models.data.LabeledImages;
import org.twicing.models.training.Evaluation;
import org.twicing.models.training.RunSettings;
import org.twicing.models.training.TrainedRun;
import org.twicing.models.training.TrainingData;
import org.twicing.runtime.ModelSession;
import org.twicing.runtime.Results;
import org.twicing.runtime.SessionOptionsSpec;
import org.twicing.runtime.Tensors;
import org.twicing.runtime.train.InferenceRunner;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code twicing quantize}: writes a run directory whose model.onnx is the run's inference model with int8
 * weights ({@link Int8Quantizer}), then evaluates both on the run's test data and times both, alternating, in the
 * same process, so the accuracy cost and the speed-up are measured side by side.
 */
@Command(
    name = "quantize",
    mixinStandardHelpOptions = true,
    versionProvider = TwicingVersion.class,
    sortOptions = false,
    description = {"Write a run directory whose model.onnx is int8 (standard ONNX ops: QuantizeLinear with "
        + "activation ranges calibrated on training images, or DynamicQuantizeLinear with --calibration 0, then "
        + "MatMulInteger with per-column int8 weights), then "
        + "compare it with the float32 model: test accuracy (or validation loss) and median ms per batch, "
        + "alternating runs.", "", "eval and predict work on the new run directory as on any run."})
public final class QuantizeCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @Option(names = "--run", paramLabel = "RUN", required = true, description = "The trained run (its model.onnx).")
  Path run;

  @Option(names = "--out", paramLabel = "QRUN", required = true, description = "The new run directory (must not "
      + "exist).")
  Path out;

  @Option(names = "--data-dir", paramLabel = "DIR", description = "Fashion-MNIST directory (default: the run's).")
  Path dataDir;

  @Option(names = "--batch", paramLabel = "B", defaultValue = "64", description = "Batch of the timing (default 64).")
  int batch;

  @Option(names = "--iters", paramLabel = "N", defaultValue = "20", description = "Timed runs of each model "
      + "(default 20).")
  int iters;

  @Option(names = "--threads", paramLabel = "N", defaultValue = "0", description = "Intra-op threads (default 0: "
      + "one per available processor).")
  int threads;

  @Option(names = "--calibration", paramLabel = "N", defaultValue = "0", description = "Training images whose "
      + "activation ranges fix the int8 scales (static quantization: QuantizeLinear); default 0: dynamic "
      + "quantization, scales computed at run time, which ONNX Runtime fuses into one kernel and runs faster "
      + "(BENCHMARKS.md). Text runs always use dynamic quantization.")
  int calibration;

  @Override
  public Integer call() {
    PrintWriter w = spec.commandLine().getOut();
    if (batch < 1 || batch > 4096) {
      throw new CliException("--batch must be between 1 and 4096, got " + batch, null, TwicingCli.EXIT_USAGE);
    }
    if (calibration < 0 || calibration > 60_000) {
      throw new CliException("--calibration must be between 0 and 60000 images, got " + calibration, null,
          TwicingCli.EXIT_USAGE);
    }
    if (iters < 0 || iters > 10_000) {
      throw new CliException("--iters must be between 0 and 10000, got " + iters, null, TwicingCli.EXIT_USAGE);
    }
    Path source = run.resolve(ModelArtifacts.MODEL);
    if (!Files.isRegularFile(source)) {
      throw new CliException(run + ": has no " + ModelArtifacts.MODEL + " to quantize (train writes it at the end)");
    }
    if (Files.exists(out)) {
      throw new CliException(out + ": already exists; choose a new --out for the quantized run");
    }
    try {
      ModelProto fp32 = ModelProto.parseFrom(Files.readAllBytes(source));
      int n = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
      SessionOptionsSpec options = SessionOptionsSpec.builder().provider("cpu").intraOpThreads(n).build();
      Map<String, Int8Quantizer.Range> ranges = null;
      if (calibration > 0) {
        try (TrainedRun f = TrainedRun.open(source, options)) {
          RunSettings s = f.settings();
          Path dir = dataDir != null ? dataDir : s.dataDir() != null ? Path.of(s.dataDir()) : null;
          TrainingData td = TrainingData.load(s.data(), dir);
          if (td.isImages()) {
            ranges = calibrate(fp32, td.fashion().train(), options);
            w.printf(Locale.ROOT, "calibrated %d activation ranges on %d training images%n", ranges.size(),
                Math.min(calibration, td.fashion().train().size()));
          } else {
            w.println("text run: dynamic quantization (calibration is for image runs)");
          }
        }
      }
      Int8Quantizer.Result q = Int8Quantizer.quantize(fp32, ranges);
      if (q.quantizedMatMuls() == 0) {
        throw new CliException(source + ": no MatMul with a float weight matrix to quantize");
      }
      AtomicDirectory.create(out, dir -> AtomicFile.write(dir.resolve(ModelArtifacts.MODEL), q.model().toByteArray()));
      w.printf(Locale.ROOT, "quantized %d MatMul weights to int8 (%s activations; %d activation products stay "
          + "float32); weights %.2f MB -> %.2f MB; wrote %s%n", q.quantizedMatMuls(),
          ranges == null ? "dynamic" : "static", q.keptMatMuls(), q.floatWeightBytes() / 1e6,
          q.int8WeightBytes() / 1e6, out.resolve(ModelArtifacts.MODEL));
      // The two sessions take turns of several runs whose first is dropped, so each keeps ONNX Runtime's default
      // spinning workers (as a deployed model would): the idle pool's spin after a switch costs only that dropped
      // run. Alternating single runs without spinning charged both models a thread wake-up per parallel section,
      // which this machine's slow phases made 4-7 ms per batch, most of it on the smaller int8 time.
      try (TrainedRun f = TrainedRun.open(source, options);
          TrainedRun i8 = TrainedRun.open(out.resolve(ModelArtifacts.MODEL), options)) {
        RunSettings s = f.settings();
        Path dir = dataDir != null ? dataDir : s.dataDir() != null ? Path.of(s.dataDir()) : null;
        TrainingData td = TrainingData.load(s.data(), dir);
        Evaluation e = td.evaluation(f.model(), td.isImages() ? 256 : 32);
        Map<String, Double> mf = e.evaluate(f.runner(), true);
        Map<String, Double> mq = e.evaluate(i8.runner(), true);
        w.println("float32: " + e.summary(mf));
        w.println("int8:    " + e.summary(mq));
        String key = e.headline();
        w.printf(Locale.ROOT, "int8 - float32 %s: %+.4f%n", key, mq.get(key) - mf.get(key));
        if (iters > 0 && td.isImages()) {
          double[] ms = time(f.runner(), i8.runner(), td.fashion().test());
          w.printf(Locale.ROOT, "median ms per batch of %d (%d runs each in alternating turns of %d, %d threads): "
              + "float32 %.2f, int8 %.2f, speed-up %.2fx%n", batch, iters, Math.min(RUNS_PER_TURN, iters), n, ms[0],
              ms[1], ms[0] / ms[1]);
        }
      }
      w.flush();
      return 0;
    } catch (CliException e) {
      throw e;
    } catch (IOException | RuntimeException e) {
      throw new CliException(CliException.describe(e), e);
    }
  }

  /**
   * The range of every activation that {@link Int8Quantizer#calibrationPoints} names, over the first
   * {@code --calibration} normalised training images, run through the float model in batches.
   */
  private Map<String, Int8Quantizer.Range> calibrate(ModelProto fp32, LabeledImages train, SessionOptionsSpec options)
      throws IOException {
    List<String> points = Int8Quantizer.calibrationPoints(fp32);
    Map<String, Int8Quantizer.Range> ranges = new LinkedHashMap<>();
    int total = Math.min(calibration, train.size());
    int per = train.pixelsPerImage();
    try (ModelSession s = ModelSession.open(Int8Quantizer.withOutputs(fp32, points).toByteArray(), options)) {
      String input = s.inputs().keySet().iterator().next();
      for (int from = 0; from < total; from += batch) {
        int b = Math.min(batch, total - from);
        float[] x = new float[b * per];
        for (int i = 0; i < b; i++) {
          train.copyNormalizedImage(from + i, x, i * per);
        }
        long[] shape = train.imageShape().clone();
        shape[0] = b;
        try (OnnxTensor in = Tensors.floats(x, shape); Results r = s.run(Map.of(input, in), points)) {
          for (String p : points) {
            float lo = Float.POSITIVE_INFINITY;
            float hi = Float.NEGATIVE_INFINITY;
            for (float v : r.floats(p)) {
              lo = Math.min(lo, v);
              hi = Math.max(hi, v);
            }
            ranges.merge(p, new Int8Quantizer.Range(lo, hi), Int8Quantizer.Range::union);
          }
        }
      }
    }
    return ranges;
  }

  /** Runs per turn when the two models take turns: few enough that a slow phase of the machine hits both. */
  static final int RUNS_PER_TURN = 5;

  /**
   * Median ms per batch of the float32 and the int8 runner, in alternating turns of {@link #RUNS_PER_TURN} runs
   * (the same {@link Alternation} as {@code bench --torch}: each turn's first run is dropped, since right after a
   * switch the caches hold the other model's weights and activations), so drifts in load hit both alike.
   */
  private double[] time(InferenceRunner fp32, InferenceRunner int8, LabeledImages test) {
    int b = Math.min(batch, test.size());
    int per = test.pixelsPerImage();
    float[] x = new float[b * per];
    for (int i = 0; i < b; i++) {
      test.copyNormalizedImage(i, x, i * per);
    }
    long[] shape = test.imageShape().clone();
    shape[0] = b;
    try (OnnxTensor in = Tensors.floats(x, shape)) {
      Map<String, Alternation.Contender> c = new LinkedHashMap<>();
      c.put("float32", k -> BenchCommand.timeRuns(k, () -> fp32.logits(in)));
      c.put("int8", k -> BenchCommand.timeRuns(k, () -> int8.logits(in)));
      int perTurn = Math.min(RUNS_PER_TURN, iters);
      Map<String, double[]> t = Alternation.run(c, (iters + perTurn - 1) / perTurn, perTurn);
      return new double[] {Alternation.median(t.get("float32")), Alternation.median(t.get("int8"))};
    } catch (RuntimeException e) {
      throw e;
    } catch (Exception e) {
      // The contenders only run sessions, which throw unchecked exceptions; Alternation's signature is general.
      throw new IllegalStateException("timing the float32 and int8 models failed: " + e.getMessage(), e);
    }
  }
}

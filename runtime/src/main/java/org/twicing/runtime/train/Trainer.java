package org.twicing.runtime.train;

import ai.onnxruntime.OnnxTensor;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.MetadataKeys;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.codegen.emit.ModelWriter;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.codegen.graphs.InferenceGraph;
import org.twicing.codegen.train.TrainingGraphs;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.codegen.train.TrainingSpecs;
import org.twicing.dsl.nn.Param;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Encoding;
import org.twicing.dsl.types.Tensor;
import org.twicing.runtime.ModelSession;
import org.twicing.runtime.Tensors;

/**
 * Trains a {@link TaskModel} with its {@code train_step} graph in ONNX Runtime.
 *
 * <p>The graph is built in-process ({@link TrainingGraphs#trainStep}) and emitted with parameters as inputs. Parameters
 * and optimizer state live in ONNX Runtime tensors for the whole run: the {@code X.next} outputs of step n are fed as
 * the X inputs of step n + 1, and step n's results are closed only once step n + 1 has consumed them; nothing passes
 * through Java arrays except checkpoints and the final model. The next batch is prepared on a background thread
 * while a step runs. The learning rate comes from an {@link LrSchedule}; {@code step} counts from 1.
 * How a step is computed is a {@link StepRunner} ({@link TrainerConfig#stepRunner()}): by default the train_step
 * graph in this process; a data-parallel runner (the spark module) keeps everything else here unchanged.
 *
 * <p>Evaluation (every {@code evalEvery} steps and at the end) runs the inference graph, emitted once with parameters
 * as inputs, on the current parameter tensors. Metrics go to {@code RUN/metrics.jsonl}; checkpoints (every
 * {@code checkpointEvery} steps and at the end) to {@code RUN/checkpoint.safetensors}, atomically; at the end
 * {@code RUN/model.onnx} (trained weights as initializers) and {@code RUN/curves.png}. A NaN or infinite loss, or
 * non-finite parameters at a checkpoint, stop training with a {@link TrainingDivergedException} without writing
 * the bad state. Resuming from a checkpoint continues exactly (bit-for-bit on one intra-op thread, without dropout).
 *
 * <p>A run owns its directory: {@link RunLock} is held for the whole call, and a directory holding another run's
 * files is refused unless the run resumes its checkpoint or {@link TrainerConfig#overwrite()} is set
 * ({@link RunDirectory}). {@link #requestStop()} ends a call early with a checkpoint, e.g. on a signal.
 */
public final class Trainer {
  /** The trained model's file name inside the run directory. */
  public static final String MODEL_FILE = "model.onnx";
  /** Name of the train_step graph's loss output. */
  public static final String LOSS = "loss";

  private static final int THROUGHPUT_WINDOW = 20;

  private final TrainerConfig cfg;
  /** Set from another thread (a signal's shutdown hook); read between steps. */
  private volatile boolean stopRequested;

  /** A trainer for {@code config}. */
  public Trainer(TrainerConfig config) {
    this.cfg = config;
  }

  /** The configuration. */
  public TrainerConfig config() {
    return cfg;
  }

  /**
   * Runs training on {@code source} up to {@link TrainerConfig#stopAt()} and writes the final files.
   *
   * @throws TrainingDivergedException when the loss or the parameters become non-finite
   * @throws CheckpointMismatchException when the resume checkpoint does not fit the model or spec
   */
  public TrainResult train(BatchSource source) throws IOException {
    return new Run(source).execute();
  }

  /**
   * Asks a running {@link #train} to stop after the step in progress: it writes the checkpoint there (unless one
   * was just written), skips the final model and evaluation, and returns a result with {@link TrainResult#stopped()}.
   * Safe to call from any thread, e.g. a shutdown hook run on SIGINT or SIGTERM.
   */
  public void requestStop() {
    stopRequested = true;
  }

  /** One invocation's mutable state. */
  private final class Run {
    private final BatchSource source;
    private final TaskModel model = cfg.model();
    private final TrainingSpec spec = cfg.spec();
    private final Path runDir = cfg.runDir();
    private final Path checkpointFile;
    private final PrintWriter out = cfg.out();
    private final List<String> paramNames = new ArrayList<>();
    private final List<String> stateNames = new ArrayList<>();
    private final List<Map<String, Double>> history = new ArrayList<>();
    private Map<String, OnnxTensor> state = new LinkedHashMap<>();
    private List<OnnxTensor> ownedInitial = new ArrayList<>();
    private StepRunner.Output owner;
    private long step;
    private long samples;
    private String position;
    private double epoch;
    private long lastCheckpointStep = -1;
    private String headline;
    private Map<String, Double> lastEval = Map.of();

    Run(BatchSource source) {
      this.source = source;
      this.checkpointFile = runDir.resolve(Checkpoint.FILE_NAME);
      for (Param p : model.parameters()) {
        paramNames.add(p.name());
      }
      stateNames.addAll(TrainerConfig.stateNames(model, spec));
    }

    TrainResult execute() throws IOException {
      // The lock is taken before the directory is inspected, so two runs cannot both find it free.
      try (RunLock lock = RunLock.acquire(runDir, this::notice)) {
        RunDirectory.prepare(runDir, cfg.resumeFrom(), cfg.overwrite(), this::notice);
        return executeLocked();
      }
    }

    private void notice(String line) {
      out.println(line);
      out.flush();
    }

    private TrainResult executeLocked() throws IOException {
      long wall0 = System.nanoTime();
      StateDict weights = start();
      long startStep = step;
      ProgressBar bar = new ProgressBar(out, cfg.progressBar() != null ? cfg.progressBar()
          : System.console() != null, cfg.totalSteps());
      EmitOptions asInputs = EmitOptions.builder().parametersAsInputs(true).build();
      byte[] evalModel = cfg.evaluator() == null ? null
          : OnnxEmitter.emit(InferenceGraph.build(model, weights), asInputs).toByteArray();
      List<Float> losses = new ArrayList<>();
      long stepNanos = 0;
      long runSamples = 0;
      ArrayDeque<long[]> window = new ArrayDeque<>();
      long windowNanos = 0;
      long windowSamples = 0;
      try (StepRunner stepper = cfg.stepRunner().open(model, weights, spec, cfg.sessionOptions());
          ModelSession evalSession = evalModel == null ? null : ModelSession.open(evalModel, cfg.sessionOptions());
          MetricsLog metrics = MetricsLog.open(runDir.resolve(MetricsLog.FILE_NAME), step);
          Prefetcher prefetcher = new Prefetcher(source, model.inputType().dtype(), model.inputName(),
              cfg.prefetch())) {
        loadHistory();
        InferenceRunner runner = evalSession == null ? null
            : InferenceRunner.withParameters(evalSession, model.inputName(), () -> state);
        weights = null; // host copies are not needed any more: the run continues from ONNX Runtime tensors
        if (step < cfg.stopAt()) {
          prefetcher.request();
        }
        boolean stopped = false;
        while (step < cfg.stopAt()) {
          if (stopRequested) {
            stopped = true;
            break;
          }
          long t0 = System.nanoTime();
          long s = step + 1;
          Prefetcher.Prepared batch = prefetcher.take();
          if (s < cfg.stopAt()) {
            prefetcher.request();
          }
          double lr = cfg.schedule().at(s);
          StepRunner.Output r;
          try {
            // Whether this step's result is evaluated, checkpointed or final (what local SGD must sync for).
            boolean read = s == cfg.stopAt() || runner != null && cfg.evalEvery() > 0 && s % cfg.evalEvery() == 0
                || cfg.checkpointEvery() > 0 && s % cfg.checkpointEvery() == 0;
            r = stepper.run(state, batch.input(), batch.labels(), batch.examples(), (float) lr, s, read);
          } finally {
            prefetcher.release(batch);
          }
          float loss = r.loss();
          if (!Float.isFinite(loss)) {
            r.close();
            metrics.flush();
            bar.finish();
            diverged(s, "the loss is " + loss + " at step " + s + " (lr " + fmt(lr) + ")");
          }
          releaseOwner();
          owner = r;
          state = new LinkedHashMap<>(r.next());
          step = s;
          samples += batch.examples();
          runSamples += batch.examples();
          position = batch.nextPosition();
          epoch = batch.epoch();
          losses.add(loss);
          long dt = System.nanoTime() - t0;
          stepNanos += dt;
          window.add(new long[] {dt, batch.examples()});
          windowNanos += dt;
          windowSamples += batch.examples();
          if (window.size() > THROUGHPUT_WINDOW) {
            long[] old = window.removeFirst();
            windowNanos -= old[0];
            windowSamples -= old[1];
          }
          double sps = windowSamples / (windowNanos / 1e9);
          Map<String, Number> rec = new LinkedHashMap<>();
          rec.put("step", step);
          rec.put("epoch", epoch);
          rec.put("loss", loss);
          rec.put("lr", lr);
          rec.put("samples_per_s", round(sps));
          boolean last = step == cfg.stopAt();
          boolean evalNow = runner != null && (last || cfg.evalEvery() > 0 && step % cfg.evalEvery() == 0);
          if (evalNow) {
            bar.update(step, loss, lr, sps, 0, true);
            evaluate(runner, last, rec);
          }
          MetricsLine line = MetricsLine.of(rec);
          metrics.append(line);
          history.add(line.asDoubles());
          if (evalNow) {
            bar.println(line(rec));
          } else {
            double eta = (cfg.stopAt() - step) * (windowNanos / 1e9 / window.size());
            bar.update(step, loss, lr, sps, eta, last);
          }
          if (last || cfg.checkpointEvery() > 0 && step % cfg.checkpointEvery() == 0) {
            metrics.flush();
            writeCheckpoint();
          }
        }
        metrics.flush();
        bar.finish();
        if (stopped) {
          if (step > 0 && lastCheckpointStep != step) {
            writeCheckpoint();
          }
          return result(startStep, step, losses, runSamples, stepNanos, wall0, true);
        }
        if (startStep == step && runner != null) {
          // Nothing left to train (resumed at the end): still report the model's metrics.
          Map<String, Number> rec = new LinkedHashMap<>();
          evaluate(runner, true, rec);
          out.println(line(rec));
          out.flush();
        }
        if (cfg.finalArtifacts()) {
          writeModel();
          writeCurves();
        }
      } finally {
        releaseOwner();
      }
      return result(startStep, step, losses, runSamples, stepNanos, wall0, false);
    }

    private TrainResult result(long startStep, long endStep, List<Float> losses, long runSamples, long stepNanos,
        long wall0, boolean stopped) {
      float[] l = new float[losses.size()];
      for (int i = 0; i < l.length; i++) {
        l[i] = losses.get(i);
      }
      return new TrainResult(startStep, endStep, l, lastEval, runSamples, stepNanos / 1e9,
          (System.nanoTime() - wall0) / 1e9, runDir, stopped);
    }

    /** Sets up the initial tensors, fresh or from the resume checkpoint; returns host weights for graph building. */
    private StateDict start() throws IOException {
      if (cfg.resumeFrom() == null) {
        StateDict w = cfg.initialWeights() != null ? cfg.initialWeights() : StateDict.initialize(model, cfg.seed());
        try {
          for (Param p : model.parameters()) {
            Tensor t = w.get(p.name());
            if (t == null) {
              throw new IllegalArgumentException("the initial weights lack parameter '" + p.name() + "'");
            }
            put(p.name(), Tensors.fromHost(t.dtype() == DType.FLOAT32 ? t : t.cast(DType.FLOAT32)));
            for (String s : spec.optimizer().stateNames()) {
              put(p.name() + "." + s, zeros(p.shape()));
            }
          }
        } catch (RuntimeException e) {
          releaseOwner();
          throw e;
        }
        position = source.position();
        return w;
      }
      Checkpoint c = Checkpoint.read(cfg.resumeFrom());
      c.requireFits(model, spec);
      TrainingSpec stored = c.trainingSpec();
      if (!stored.equals(spec)) {
        throw new CheckpointMismatchException(c.file(), null, c.file() + ": checkpoint was trained with "
            + TrainingSpecs.describe(stored) + "; resuming it needs the same training spec, not "
            + TrainingSpecs.describe(spec));
      }
      step = c.step();
      samples = c.samples();
      position = c.dataPosition();
      if (step > cfg.stopAt()) {
        throw new IllegalArgumentException(c.file() + ": checkpoint is at step " + step + ", beyond the "
            + cfg.stopAt() + " steps asked for");
      }
      source.seek(position);
      Map<String, OnnxTensor> loaded = c.trainingTensors(model, spec);
      ownedInitial.addAll(loaded.values());
      state.putAll(loaded);
      if (c.file().toAbsolutePath().normalize().equals(checkpointFile.toAbsolutePath().normalize())) {
        lastCheckpointStep = step;
      }
      Path oldMetrics = c.file().toAbsolutePath().getParent().resolve(MetricsLog.FILE_NAME);
      Path newMetrics = runDir.resolve(MetricsLog.FILE_NAME);
      if (!Files.exists(newMetrics) && Files.exists(oldMetrics)) {
        Files.copy(oldMetrics, newMetrics, StandardCopyOption.COPY_ATTRIBUTES);
      }
      return c.parameters(model);
    }

    private void put(String name, OnnxTensor t) {
      ownedInitial.add(t);
      state.put(name, t);
    }

    private OnnxTensor zeros(long[] shape) {
      long n = Tensor.numel(shape);
      ByteBuffer b = ByteBuffer.allocateDirect(Math.toIntExact(n * 4)).order(ByteOrder.nativeOrder());
      return Tensors.fromBuffer(b.asFloatBuffer(), shape);
    }

    /** Closes whatever owns the current tensors (the previous step's results or the initial tensors). */
    private void releaseOwner() {
      if (owner != null) {
        owner.close();
        owner = null;
      }
      for (OnnxTensor t : ownedInitial) {
        t.close();
      }
      ownedInitial = new ArrayList<>();
    }

    private void loadHistory() throws IOException {
      Path f = runDir.resolve(MetricsLog.FILE_NAME);
      if (step > 0 && Files.exists(f)) {
        history.addAll(MetricsLog.read(f));
      }
    }

    private void evaluate(InferenceRunner runner, boolean full, Map<String, Number> rec) {
      Map<String, Double> m = cfg.evaluator().evaluate(runner, full);
      for (Map.Entry<String, Double> e : m.entrySet()) {
        rec.put("eval_" + e.getKey(), e.getValue());
        if (headline == null) {
          headline = "eval_" + e.getKey();
        }
      }
      lastEval = Collections.unmodifiableMap(new LinkedHashMap<>(m));
    }

    private String line(Map<String, Number> rec) {
      StringBuilder sb = new StringBuilder();
      if (rec.containsKey("step")) {
        sb.append(String.format(Locale.ROOT, "step %d/%d  epoch %.2f  loss %.4f  lr %.2e  %.1f samples/s",
            rec.get("step").longValue(), cfg.totalSteps(), rec.get("epoch").doubleValue(),
            rec.get("loss").doubleValue(), rec.get("lr").doubleValue(), rec.get("samples_per_s").doubleValue()));
      } else {
        sb.append("step ").append(step);
      }
      for (Map.Entry<String, Number> e : rec.entrySet()) {
        if (e.getKey().startsWith("eval_")) {
          double v = e.getValue().doubleValue();
          sb.append("  ").append(e.getKey().replace('_', ' ')).append(' ')
              .append(v == Math.rint(v) && Math.abs(v) < 1e12 ? Long.toString((long) v)
                  : String.format(Locale.ROOT, "%.4f", v));
        }
      }
      return sb.toString();
    }

    private void writeCheckpoint() throws IOException {
      Map<String, Checkpoint.Data> data = Checkpoint.export(state);
      String bad = Checkpoint.firstNonFinite(data);
      if (bad != null) {
        diverged(step, "parameters or optimizer state became non-finite after step " + step + ": " + bad);
      }
      Map<String, String> meta = new LinkedHashMap<>(Checkpoint.baseMetadata(model, spec, cfg.schedule(),
          cfg.totalSteps()));
      meta.putAll(cfg.metadata());
      meta.put(Checkpoint.KEY_STEP, Long.toString(step));
      meta.put(Checkpoint.KEY_DATA_POSITION, position);
      meta.put(Checkpoint.KEY_SAMPLES, Long.toString(samples));
      Checkpoint.write(checkpointFile, data, meta);
      lastCheckpointStep = step;
    }

    private void writeModel() throws IOException {
      Map<String, OnnxTensor> params = new LinkedHashMap<>();
      for (String n : paramNames) {
        params.put(n, state.get(n));
      }
      Map<String, Checkpoint.Data> data = Checkpoint.export(params);
      String bad = Checkpoint.firstNonFinite(data);
      if (bad != null) {
        diverged(step, "parameters became non-finite after step " + step + ": " + bad);
      }
      Map<String, Tensor> host = new LinkedHashMap<>();
      data.forEach((n, d) -> host.put(n, Encoding.fromBytes(d.dtype(), d.shape(), d.littleEndian())));
      StateDict trained = StateDict.load(model, host, "the trained parameters");
      EmitOptions.Builder opts = EmitOptions.builder().metadata(MetadataKeys.STEP, Long.toString(step))
          .metadata(Checkpoint.KEY_TRAINING_SPEC, TrainingSpecs.encode(spec));
      cfg.metadata().forEach(opts::metadata);
      lastEval.forEach((k, v) -> opts.metadata(MetadataKeys.EVAL_PREFIX + k, Double.toString(v)));
      ModelWriter.write(ModelArtifacts.inferenceModel(model, trained, null, opts.build()),
          runDir.resolve(MODEL_FILE));
    }

    private void writeCurves() throws IOException {
      Curves.write(runDir.resolve(Curves.FILE_NAME), history, headline != null ? headline : guessHeadline(),
          cfg.title());
    }

    private String guessHeadline() {
      for (Map<String, Double> r : history) {
        for (String k : r.keySet()) {
          if (k.startsWith("eval_")) {
            return k;
          }
        }
      }
      return null;
    }

    private void diverged(long at, String what) {
      try {
        if (cfg.finalArtifacts()) {
          writeCurves();
        }
      } catch (IOException | RuntimeException e) {
        // the curves are a courtesy here; the divergence is what must be reported
      }
      String kept = lastCheckpointStep >= 0
          ? "the last good checkpoint, " + checkpointFile + " (step " + lastCheckpointStep + "), was kept"
          : "no checkpoint had been written yet";
      throw new TrainingDivergedException("training diverged: " + what + "; stopped without saving this state; "
          + kept + " (try a lower --lr, warm-up or --clip-norm)", at, lastCheckpointStep, checkpointFile);
    }
  }

  private static double round(double v) {
    return Math.round(v * 10.0) / 10.0;
  }

  private static String fmt(double v) {
    return String.format(Locale.ROOT, "%.3g", v);
  }
}

package org.twicing.models.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import org.twicing.codegen.importer.ForeignModel;
import org.twicing.dsl.nn.AttentionKind;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.models.data.FashionMnist;
import org.twicing.models.data.TextData;
import org.twicing.models.training.Evaluation;
import org.twicing.models.training.ForeignModelSpec;
import org.twicing.models.training.OptimizerKind;
import org.twicing.models.training.RunSettings;
import org.twicing.models.training.TrainingData;
import org.twicing.runtime.SessionOptionsSpec;
import org.twicing.runtime.train.BatchSource;
import org.twicing.runtime.train.Checkpoint;
import org.twicing.runtime.train.LrSchedule;
import org.twicing.runtime.train.RunDirectory;
import org.twicing.runtime.train.TrainResult;
import org.twicing.runtime.train.Trainer;
import org.twicing.runtime.train.TrainerConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code twicing train}: trains a zoo preset, or an ONNX model exported by another tool ({@code --onnx}), with its
 * ONNX training-step graph in ONNX Runtime.
 */
@Command(
    name = "train",
    mixinStandardHelpOptions = true,
    versionProvider = TwicingVersion.class,
    sortOptions = false,
    description = {"Train a model preset (or an ONNX model exported by another tool, --onnx) on Fashion-MNIST or "
        + "byte-level text.", "",
        "Builds the model's train_step graph (standard ONNX ops), runs it in ONNX Runtime with parameters and "
            + "optimizer state kept as ONNX tensors between steps, evaluates every --eval-every steps and at the "
            + "end, and writes RUN/metrics.jsonl, RUN/checkpoint.safetensors (every --checkpoint-every steps and at "
            + "the end), RUN/model.onnx (trained weights) and RUN/curves.png.",
        "With no options it trains the twicing vit-fmnist on Fashion-MNIST for one epoch (batch 64, AdamW lr 1e-3, "
            + "5%% warm-up then cosine, weight decay 0.05) and prints the test accuracy.",
        "DATA is 'fashion-mnist' (from --data-dir, else " + FashionMnist.SYSTEM_DIR_NAME
            + ", else a bundled subset) or 'text:PATH' (a UTF-8 file or directory; byte-level language model)."})
public final class TrainCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @picocli.CommandLine.Mixin
  ProviderOptions runOn;

  @picocli.CommandLine.Mixin
  ForeignModelOptions foreign;

  @picocli.CommandLine.Mixin
  DistributedOptions distributed;

  @picocli.CommandLine.Mixin
  DataParallelOptions dataParallel;

  @Option(names = "--model", paramLabel = "PRESET", description = "Model preset: vit-fmnist (default for images), "
      + "lm-tiny (default for text), vit-tiny, lm-paper.")
  String model;

  @Option(names = "--data", paramLabel = "DATA", description = "fashion-mnist (default) or text:PATH.")
  String data;

  @Option(names = "--data-dir", paramLabel = "DIR", description = "Directory of the four Fashion-MNIST IDX files.")
  Path dataDir;

  @Option(names = "--epochs", paramLabel = "E", description = "Passes over the training data (default 1).")
  Double epochs;

  @Option(names = "--steps", paramLabel = "S", description = "Training steps (instead of --epochs).")
  Long steps;

  @Option(names = "--stop-at", paramLabel = "N", description = "Stop after step N of the planned ones, writing the "
      + "checkpoint, as if interrupted (continue with --resume).")
  Long stopAt;

  @Option(names = "--batch", paramLabel = "B", description = "Examples per step (default 64).")
  Integer batch;

  @Option(names = "--lr", paramLabel = "LR", description = "Peak learning rate (default 1e-3).")
  Double lr;

  @Option(names = "--min-lr", paramLabel = "LR", description = "Final learning rate of the cosine (default lr/100).")
  Double minLr;

  @Option(names = "--warmup", paramLabel = "W", description = "Linear warm-up steps (default 5%% of the steps).")
  Long warmup;

  @Option(names = "--schedule", paramLabel = "constant|cosine", description = "After warm-up (default cosine).")
  String schedule;

  @Option(names = "--optimizer", paramLabel = "adamw|sgd", description = "Optimizer (default adamw).")
  String optimizer;

  @Option(names = "--weight-decay", paramLabel = "W", description = "Weight decay (default 0.05).")
  Double weightDecay;

  @Option(names = "--momentum", paramLabel = "M", description = "SGD momentum (default 0.9).")
  Double momentum;

  @Option(names = "--clip-norm", paramLabel = "C", description = "Clip the global gradient norm to C (default 0: "
      + "off).")
  Double clipNorm;

  @Option(names = "--label-smoothing", paramLabel = "S", description = "Label smoothing (default 0).")
  Double labelSmoothing;

  @Option(names = "--attention", paramLabel = "softmax|twicing", description = "Attention kind override; with "
      + "--onnx, twicing rewrites the model's softmax attention A·V into A·(2V − A·V) and softmax keeps it.")
  String attention;

  @Option(names = "--twicing-layers", paramLabel = "SPEC", description = "Layers that twice: all, none, last:K or "
      + "a list like 14,15.")
  String twicingLayers;

  @Option(names = "--seed", paramLabel = "N", description = "Seed of weights, shuffling and dropout (default 0).")
  Long seed;

  @Option(names = "--eval-every", paramLabel = "N", description = "Evaluate every N steps (default: a fifth of "
      + "the steps, at least 50; 0: only at the end). Periodic evaluations use the first 2000 test images (64 text "
      + "windows); the final one all of them.")
  Long evalEvery;

  @Option(names = "--checkpoint-every", paramLabel = "N", description = "Checkpoint every N steps (default: as "
      + "--eval-every; 0: only at the end).")
  Long checkpointEvery;

  @Option(names = "--eval-batch", paramLabel = "B", defaultValue = "256", description = "Batch size of evaluations "
      + "(default 256 images or 32 text windows).")
  int evalBatch;

  @Option(names = "--resume", paramLabel = "RUN", description = "Continue the run in RUN (its checkpoint) with its "
      + "settings.")
  Path resume;

  @Option(names = "--out", paramLabel = "RUN", description = "Run directory (default runs/PRESET-TIMESTAMP, or RUN "
      + "of --resume).")
  Path out;

  @Option(names = "--overwrite", description = "Delete the files of a previous run in --out instead of refusing to "
      + "train there.")
  boolean overwrite;

  @Override
  public Integer call() {
    PrintWriter w = spec.commandLine().getOut();
    if (epochs != null && steps != null) {
      throw new CliException("give --epochs or --steps, not both", null, TwicingCli.EXIT_USAGE);
    }
    if (epochs != null && !(epochs > 0)) {
      throw new CliException("--epochs must be positive, got " + epochs, null, TwicingCli.EXIT_USAGE);
    }
    if (steps != null && steps <= 0) {
      throw new CliException("--steps must be positive, got " + steps, null, TwicingCli.EXIT_USAGE);
    }
    if (out != null && !overwrite) {
      // Early, before any data is loaded; the trainer checks again under the run's lock.
      try {
        RunDirectory.requireFree(out, resume == null ? null
            : Files.isDirectory(resume) ? resume.resolve(Checkpoint.FILE_NAME) : resume);
      } catch (IOException e) {
        throw new CliException(e.getMessage(), e, TwicingCli.EXIT_USAGE);
      }
    }
    try {
      return train(w);
    } catch (CliException e) {
      throw e;
    } catch (IOException | RuntimeException e) {
      throw new CliException(CliException.describe(e), e);
    }
  }

  private int train(PrintWriter w) throws IOException {
    Path checkpointFile = null;
    RunSettings base = null;
    long resumedStep = 0;
    if (resume != null) {
      checkpointFile = Files.isDirectory(resume) ? resume.resolve(Checkpoint.FILE_NAME) : resume;
      Checkpoint c = Checkpoint.read(checkpointFile);
      base = RunSettings.fromMetadata(c.metadata(), checkpointFile.toString());
      resumedStep = c.step();
      refuseChanges(base, checkpointFile);
    }
    // Paths are stored absolute so that eval, predict and --resume work from any directory.
    String dataSpec = data != null ? absoluteText(data) : base != null ? base.data() : TrainingData.FASHION_MNIST;
    String dir = dataDir != null ? dataDir.toAbsolutePath().normalize().toString()
        : base != null && data == null ? base.dataDir() : null;
    ForeignModelSpec onnx = foreign.spec();
    if (onnx != null && (model != null || twicingLayers != null)) {
      throw new CliException((model != null ? "--model" : "--twicing-layers")
          + " applies to presets, not to --onnx models", null, TwicingCli.EXIT_USAGE);
    }
    if (onnx != null) {
      try {
        onnx = onnx.withAttention(attention);
      } catch (IllegalArgumentException e) {
        throw new CliException(e.getMessage(), e, TwicingCli.EXIT_USAGE);
      }
    }
    String preset = onnx != null ? onnx.encode() : model != null ? model : base != null && data == null
        ? base.preset() : TrainingData.isText(dataSpec) ? "lm-tiny" : "vit-fmnist";
    String shortName = ForeignModelSpec.isSpec(preset) ? ForeignModelSpec.parse(preset).shortName() : preset;
    String att = attention != null ? attention : base != null && model == null ? base.attention() : null;
    String layers = twicingLayers != null ? twicingLayers : base != null && model == null ? base.twicingLayers()
        : null;
    int b = pick(batch, base == null ? null : base.batch(), 64);
    long s = pick(seed, base == null ? null : base.seed(), 0L);
    TrainingData td = TrainingData.load(dataSpec, dir == null ? null : Path.of(dir));
    w.println("data: " + td.describe());
    w.flush();
    RunSettings probe = settings(preset, att, layers, dataSpec, dir, b, s, base, 1, 0);
    TaskModel m = probe.model();
    td.requireFits(m);
    BatchSource source = td.trainBatches(m, b, s);
    long total;
    if (steps != null) {
      total = steps;
    } else if (epochs != null) {
      total = Math.max(1, (long) Math.ceil(epochs * source.batchesPerEpoch()));
    } else if (base != null) {
      total = base.steps();
    } else {
      total = source.batchesPerEpoch();
    }
    long warm = warmup != null ? warmup : base != null ? base.warmup() : Math.round(total * 0.05);
    RunSettings settings = settings(preset, att, layers, dataSpec, dir, b, s, base, total, warm);
    if (base != null && base.steps() != total && settings.schedule() == LrSchedule.Kind.COSINE) {
      w.println("note: the cosine schedule now ends at step " + total + " instead of " + base.steps());
    }
    Path runDir = out != null ? out : resume != null ? checkpointFile.toAbsolutePath().getParent()
        : Path.of("runs", shortName + "-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
    long ev = evalEvery != null ? evalEvery : Math.max(50, (total + 4) / 5);
    long ck = checkpointEvery != null ? checkpointEvery : ev;
    Evaluation evaluation = td.evaluation(m, td.isImages() ? evalBatch : Math.min(evalBatch, 32));
    int intraOp = runOn.threads();
    SessionOptionsSpec options = runOn.spec();
    TrainerConfig.Builder cfg = TrainerConfig.builder(m).spec(settings.spec()).schedule(settings.lrSchedule())
        .steps(total).seed(s).runDir(runDir).sessionOptions(options).evaluator(evaluation).evalEvery(ev)
        .checkpointEvery(ck).metadata(settings.toMetadata()).out(w).overwrite(overwrite)
        .title(describe(m) + " on " + (td.isImages() ? "Fashion-MNIST" : dataSpec));
    if (stopAt != null) {
      cfg.stopAt(stopAt);
    }
    if (checkpointFile != null) {
      cfg.resumeFrom(checkpointFile);
    }
    if (checkpointFile != null) {
      // Check before anything runs: a checkpoint of another model fails here, naming the file and the tensor.
      Checkpoint.read(checkpointFile).requireFits(m, settings.spec());
    }
    if (m instanceof ForeignModel f) {
      w.printf(Locale.ROOT, "model: %s (imported), %,d trainable parameters, %d frozen initializers, logits '%s'%n",
          m.name(), m.parameterCount(), f.frozen().size(), f.logitsOutput());
      if (f.config().containsKey(ForeignModelSpec.ATTENTION_KEY)) {
        w.println(f.config().get(ForeignModelSpec.ATTENTION_KEY));
      }
    } else {
      w.printf(Locale.ROOT, "model: %s, %,d parameters, attention %s%n", preset, m.parameterCount(),
          attentionSummary(m));
    }
    long last = stopAt != null ? stopAt : total;
    if (resumedStep >= last) {
      w.printf(Locale.ROOT, "training: the checkpoint is already at step %d of %d; evaluating it%n", resumedStep,
          total);
    } else {
      w.printf(Locale.ROOT, "training: steps %d..%d of %d (%s), batch %d, %s, lr %s, on %s with %d threads; "
          + "run directory %s%n", resumedStep + 1, last, total, epochsText(total, source), b,
          settings.spec().optimizer().describe(), settings.lrSchedule().describe(), runOn.provider(), intraOp, runDir);
    }
    w.flush();
    TrainResult r;
    int workers = dataParallel.workers(distributed);
    int k = dataParallel.syncEvery(distributed);
    try (DistributedBackend.Cluster c = distributed.connect(w)) {
      if (c != null) {
        cfg.stepRunner(c.trainSteps(workers, k));
        w.println("data parallel: " + workers + " workers on " + c.describe() + (k > 0 ? "; local SGD, replicas "
            + "averaged every " + k + " steps (not equal to synchronous training)" : ""));
        w.flush();
      }
      r = StopOnSignal.train(new Trainer(cfg.build()), source, stopped -> {
        w.printf(Locale.ROOT, "stopped by a signal after step %d of %d; wrote %s; continue with: twicing train "
            + "--resume %s%n", stopped.endStep(), total, stopped.checkpoint(), runDir);
        w.flush();
      });
    }
    if (r.stopped()) {
      return TwicingCli.EXIT_FAILURE; // the process exits with the signal's status (130 or 143) regardless
    }
    w.println(evaluation.summary(r.finalMetrics()));
    w.println("data source: " + td.describe());
    w.printf(Locale.ROOT, "trained steps %d..%d in %.1f s (%.1f samples/s); wrote %s, %s, %s, %s%n",
        r.startStep() + 1, r.endStep(), r.wallSeconds(), r.samplesPerSecond(), r.metrics(), r.checkpoint(),
        r.model(), r.curves());
    w.flush();
    return 0;
  }

  private RunSettings settings(String preset, String att, String layers, String dataSpec, String dir, int b, long s,
      RunSettings base, long total, long warm) {
    double peak = pick(lr, base == null ? null : base.lr(), 1e-3);
    return RunSettings.builder(preset, dataSpec).attention(att).twicingLayers(layers).dataDir(dir).batch(b)
        .lr(peak).minLr(pick(minLr, base == null ? null : base.minLr(), peak / 100)).warmup(warm)
        .schedule(schedule != null ? RunSettings.parseSchedule(schedule)
            : base != null ? base.schedule() : LrSchedule.Kind.COSINE)
        .optimizer(optimizer != null ? OptimizerKind.parse(optimizer)
            : base != null ? base.optimizer() : OptimizerKind.ADAMW)
        .weightDecay(pick(weightDecay, base == null ? null : base.weightDecay(), 0.05))
        .momentum(pick(momentum, base == null ? null : base.momentum(), 0.9))
        .clipNorm(pick(clipNorm, base == null ? null : base.clipNorm(), 0.0))
        .labelSmoothing(pick(labelSmoothing, base == null ? null : base.labelSmoothing(), 0.0)).seed(s).steps(total)
        .build();
  }

  private static String absoluteText(String spec) {
    if (!TrainingData.isText(spec) || spec.length() == TextData.SCHEME.length()) {
      return spec;
    }
    return TextData.SCHEME + Path.of(spec.substring(TextData.SCHEME.length())).toAbsolutePath().normalize();
  }

  private static <T> T pick(T given, T fromBase, T fallback) {
    return given != null ? given : fromBase != null ? fromBase : fallback;
  }

  /** Resuming keeps what the optimizer state and data position depend on; changing it is an error. */
  private void refuseChanges(RunSettings base, Path file) {
    List<String> changed = new ArrayList<>();
    diff(changed, "--batch", batch, base.batch());
    diff(changed, "--lr", lr, base.lr());
    diff(changed, "--min-lr", minLr, base.minLr());
    diff(changed, "--warmup", warmup, base.warmup());
    diff(changed, "--schedule", schedule, RunSettings.spelling(base.schedule()));
    diff(changed, "--optimizer", optimizer, base.optimizer().spelling());
    diff(changed, "--weight-decay", weightDecay, base.weightDecay());
    diff(changed, "--momentum", momentum, base.momentum());
    diff(changed, "--clip-norm", clipNorm, base.clipNorm());
    diff(changed, "--label-smoothing", labelSmoothing, base.labelSmoothing());
    diff(changed, "--seed", seed, base.seed());
    if (!changed.isEmpty()) {
      throw new CliException("cannot change " + String.join(", ", changed) + " when resuming from " + file
          + "; start a new run instead", null, TwicingCli.EXIT_USAGE);
    }
  }

  private static void diff(List<String> out, String option, Object given, Object stored) {
    if (given != null && !Objects.equals(String.valueOf(given).toLowerCase(Locale.ROOT),
        String.valueOf(stored).toLowerCase(Locale.ROOT))) {
      out.add(option + " (the run used " + stored + ")");
    }
  }

  private static String epochsText(long total, BatchSource source) {
    long per = source.batchesPerEpoch();
    return per > 0 ? String.format(Locale.ROOT, "%.2f epochs of %d batches", total / (double) per, per)
        : total + " batches";
  }

  private static String describe(TaskModel m) {
    return m instanceof ForeignModel ? m.name() + " (imported)" : m.name() + " (" + attentionSummary(m) + ")";
  }

  static String attentionSummary(TaskModel m) {
    List<String> kinds = m.attentionKinds().stream().map(AttentionKind::name).toList();
    return kinds.stream().distinct().map(k -> k + " x" + kinds.stream().filter(k::equals).count())
        .collect(Collectors.joining(", "));
  }
}

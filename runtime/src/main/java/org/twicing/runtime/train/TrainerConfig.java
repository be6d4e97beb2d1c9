package org.twicing.runtime.train;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.nn.Param;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.runtime.SessionOptionsSpec;

/**
 * Everything a {@link Trainer} needs besides its data: the model, training spec, learning-rate schedule, how many
 * steps, where the run directory is, how often to evaluate and checkpoint, the ONNX Runtime session options, and
 * optionally a checkpoint to resume from. Immutable; build with {@link #builder(TaskModel)}.
 */
public final class TrainerConfig {
  private final TaskModel model;
  private final TrainingSpec spec;
  private final LrSchedule schedule;
  private final long totalSteps;
  private final long stopAt;
  private final long seed;
  private final StateDict initialWeights;
  private final Path runDir;
  private final SessionOptionsSpec sessionOptions;
  private final Evaluator evaluator;
  private final long evalEvery;
  private final long checkpointEvery;
  private final Path resumeFrom;
  private final Map<String, String> metadata;
  private final PrintWriter out;
  private final Boolean progressBar;
  private final boolean prefetch;
  private final boolean finalArtifacts;
  private final String title;
  private final boolean overwrite;

  private final StepRunner.Factory stepRunner;

  private TrainerConfig(Builder b) {
    this.model = b.model;
    this.spec = b.spec;
    this.schedule = Objects.requireNonNull(b.schedule, "a learning-rate schedule is required: call"
        + " schedule(LrSchedule), e.g. LrSchedule.warmupCosine(peak, warmup, steps, min)");
    this.totalSteps = b.totalSteps;
    this.stopAt = b.stopAt > 0 ? b.stopAt : b.totalSteps;
    this.seed = b.seed;
    this.initialWeights = b.initialWeights;
    this.runDir = Objects.requireNonNull(b.runDir, "a run directory is required: call runDir(Path), where metrics,"
        + " checkpoints and the trained model.onnx go");
    this.sessionOptions = b.sessionOptions;
    this.evaluator = b.evaluator;
    this.evalEvery = b.evalEvery;
    this.checkpointEvery = b.checkpointEvery;
    this.resumeFrom = b.resumeFrom;
    this.metadata = Collections.unmodifiableMap(new LinkedHashMap<>(b.metadata));
    this.out = b.out;
    this.progressBar = b.progressBar;
    this.prefetch = b.prefetch;
    this.finalArtifacts = b.finalArtifacts;
    this.title = b.title;
    this.overwrite = b.overwrite;

    this.stepRunner = b.stepRunner;
    if (totalSteps <= 0) {
      throw new IllegalArgumentException("the number of training steps must be positive: call steps(n) with n > 0,"
          + " got " + totalSteps);
    }
    if (stopAt > totalSteps) {
      throw new IllegalArgumentException("stop-at step " + stopAt + " is beyond the " + totalSteps + " planned steps");
    }
  }

  /** A builder for training {@code model}. */
  public static Builder builder(TaskModel model) {
    return new Builder(Objects.requireNonNull(model, "model"));
  }

  /** The model. */
  public TaskModel model() {
    return model;
  }

  /** Loss, optimizer, clipping, dropout seed. */
  public TrainingSpec spec() {
    return spec;
  }

  /** The learning-rate schedule. */
  public LrSchedule schedule() {
    return schedule;
  }

  /** The planned number of steps (the run is complete at this step). */
  public long totalSteps() {
    return totalSteps;
  }

  /** The step this invocation stops after (the total unless told to stop early, e.g. to resume later). */
  public long stopAt() {
    return stopAt;
  }

  /** Seed of the initial weights (unless {@link #initialWeights()} is given). */
  public long seed() {
    return seed;
  }

  /** Explicit initial weights, or null for {@code StateDict.initialize(model, seed)}. */
  public StateDict initialWeights() {
    return initialWeights;
  }

  /** The run directory (metrics, checkpoint, model, curves). */
  public Path runDir() {
    return runDir;
  }

  /** ONNX Runtime options for the training and evaluation sessions. */
  public SessionOptionsSpec sessionOptions() {
    return sessionOptions;
  }

  /** The evaluator, or null for none. */
  public Evaluator evaluator() {
    return evaluator;
  }

  /** Evaluate every this many steps (0: only at the end). */
  public long evalEvery() {
    return evalEvery;
  }

  /** Checkpoint every this many steps (0: only at the end). */
  public long checkpointEvery() {
    return checkpointEvery;
  }

  /** The checkpoint to resume from, or null. */
  public Path resumeFrom() {
    return resumeFrom;
  }

  /** Extra metadata for checkpoints and the final model (e.g. how to rebuild the model). */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** Where progress and evaluation lines go. */
  public PrintWriter out() {
    return out;
  }

  /** Whether to draw a progress bar: true, false, or null to draw one only when {@code System.console() != null}. */
  public Boolean progressBar() {
    return progressBar;
  }

  /** Whether the next batch is prepared on a background thread while a step runs. */
  public boolean prefetch() {
    return prefetch;
  }

  /** Whether to write model.onnx and curves.png at the end. */
  public boolean finalArtifacts() {
    return finalArtifacts;
  }

  /** The title of the curves plot. */
  public String title() {
    return title != null ? title : model.name();
  }

  /** Whether another run's files in the run directory are deleted instead of refusing to start there. */
  public boolean overwrite() {
    return overwrite;
  }

  /** How each step is computed (default {@link StepRunner#local()}: the train_step graph in this process). */
  public StepRunner.Factory stepRunner() {
    return stepRunner;
  }

  /**
   * The names of everything a step updates, in graph order: each parameter, followed by its optimizer state
   * tensors ({@code <param>.<state>}).
   */
  public static List<String> stateNames(TaskModel model, TrainingSpec spec) {
    List<String> names = new ArrayList<>();
    for (Param p : model.parameters()) {
      names.add(p.name());
      for (String s : spec.optimizer().stateNames()) {
        names.add(p.name() + "." + s);
      }
    }
    return Collections.unmodifiableList(names);
  }

  /** Builds a {@link TrainerConfig}. */
  public static final class Builder {
    private final TaskModel model;
    private TrainingSpec spec = TrainingSpec.defaults();
    private LrSchedule schedule;
    private long totalSteps;
    private long stopAt;
    private long seed;
    private StateDict initialWeights;
    private Path runDir;
    private SessionOptionsSpec sessionOptions = SessionOptionsSpec.defaults();
    private Evaluator evaluator;
    private long evalEvery;
    private long checkpointEvery;
    private Path resumeFrom;
    private final Map<String, String> metadata = new LinkedHashMap<>();
    private PrintWriter out = new PrintWriter(System.out, true);
    private Boolean progressBar;
    private boolean prefetch = true;
    private boolean finalArtifacts = true;
    private String title;
    private boolean overwrite;
    private StepRunner.Factory stepRunner = StepRunner.local();

    private Builder(TaskModel model) {
      this.model = model;
    }

    /** Loss, optimizer, clipping and dropout seed (default {@link TrainingSpec#defaults()}). */
    public Builder spec(TrainingSpec s) {
      this.spec = Objects.requireNonNull(s, "spec");
      return this;
    }

    /** The learning-rate schedule (required). */
    public Builder schedule(LrSchedule s) {
      this.schedule = s;
      return this;
    }

    /** The planned number of steps (required, > 0). */
    public Builder steps(long n) {
      this.totalSteps = n;
      return this;
    }

    /** Stops after step {@code n} (below the planned total) as if interrupted, writing the final files there. */
    public Builder stopAt(long n) {
      if (n < 0) {
        throw new IllegalArgumentException("stop-at must be >= 0 (0: the planned total), got " + n);
      }
      this.stopAt = n;
      return this;
    }

    /** Seed of the initial weights (default 0). */
    public Builder seed(long s) {
      this.seed = s;
      return this;
    }

    /** Explicit initial weights. */
    public Builder initialWeights(StateDict w) {
      this.initialWeights = w;
      return this;
    }

    /** The run directory (required; created if missing). */
    public Builder runDir(Path dir) {
      this.runDir = dir;
      return this;
    }

    /** Execution provider, threads... for the ONNX Runtime sessions. */
    public Builder sessionOptions(SessionOptionsSpec s) {
      this.sessionOptions = Objects.requireNonNull(s, "session options");
      return this;
    }

    /** The evaluator (null: none). */
    public Builder evaluator(Evaluator e) {
      this.evaluator = e;
      return this;
    }

    /** Evaluate every {@code n} steps (0: only at the end). */
    public Builder evalEvery(long n) {
      if (n < 0) {
        throw new IllegalArgumentException("eval-every must be >= 0, got " + n);
      }
      this.evalEvery = n;
      return this;
    }

    /** Checkpoint every {@code n} steps (0: only at the end). */
    public Builder checkpointEvery(long n) {
      if (n < 0) {
        throw new IllegalArgumentException("checkpoint-every must be >= 0, got " + n);
      }
      this.checkpointEvery = n;
      return this;
    }

    /** Resume from this checkpoint file (null: start fresh). */
    public Builder resumeFrom(Path checkpoint) {
      this.resumeFrom = checkpoint;
      return this;
    }

    /** Adds metadata written into checkpoints and the final model. */
    public Builder metadata(String key, String value) {
      this.metadata.put(Objects.requireNonNull(key), Objects.requireNonNull(value, key));
      return this;
    }

    /** Adds every entry as metadata. */
    public Builder metadata(Map<String, String> m) {
      m.forEach(this::metadata);
      return this;
    }

    /** Where progress and evaluation lines go (default System.out). */
    public Builder out(PrintStream o) {
      this.out = new PrintWriter(Objects.requireNonNull(o, "out"), true);
      return this;
    }

    /** Where progress and evaluation lines go, e.g. a command's output writer. */
    public Builder out(PrintWriter o) {
      this.out = Objects.requireNonNull(o, "out");
      return this;
    }

    /** Force the progress bar on or off (default: on only when a console is attached). */
    public Builder progressBar(Boolean on) {
      this.progressBar = on;
      return this;
    }

    /** Whether to prepare batches on a background thread (default true). */
    public Builder prefetch(boolean on) {
      this.prefetch = on;
      return this;
    }

    /** Whether to write model.onnx and curves.png at the end (default true). */
    public Builder finalArtifacts(boolean on) {
      this.finalArtifacts = on;
      return this;
    }

    /** The curves plot's title (default: the model name). */
    public Builder title(String t) {
      this.title = t;
      return this;
    }

    /**
     * Whether to delete another run's files found in the run directory (default false: training refuses to start
     * there, unless it resumes the checkpoint in it).
     */
    public Builder overwrite(boolean on) {
      this.overwrite = on;
      return this;
    }

    /** How each step is computed (default {@link StepRunner#local()}). */
    public Builder stepRunner(StepRunner.Factory f) {
      this.stepRunner = Objects.requireNonNull(f, "stepRunner");
      return this;
    }

    /** The configuration. */
    public TrainerConfig build() {
      return new TrainerConfig(this);
    }
  }
}

package org.twicing.models.training;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.twicing.codegen.emit.MetadataKeys;
import org.twicing.codegen.train.CrossEntropy;
import org.twicing.codegen.train.Optimizer;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.models.zoo.PresetOptions;
import org.twicing.models.zoo.Zoo;
import org.twicing.runtime.train.LrSchedule;

/**
 * The settings of a {@code twicing train} run: which preset (with attention overrides) on which data, and the
 * optimisation hyper-parameters. They are stored as {@code twicing.run.*} metadata in the checkpoint and the
 * trained model, so that {@code eval}, {@code predict} and {@code --resume} rebuild exactly the same model.
 *
 * @param preset zoo preset name, or an ONNX file as {@link ForeignModelSpec#encode()} writes it
 * @param attention {@code --attention} override, or null
 * @param twicingLayers {@code --twicing-layers} override, or null
 * @param data data spec ({@code fashion-mnist}, {@code text:PATH})
 * @param dataDir Fashion-MNIST directory, or null
 * @param batch batch size
 * @param lr peak learning rate
 * @param minLr final learning rate of the cosine schedule
 * @param warmup warm-up steps
 * @param schedule the shape after warm-up; stored as {@code cosine} or {@code constant}
 * @param optimizer the optimizer; stored as {@code adamw} or {@code sgd}
 * @param weightDecay weight decay
 * @param momentum SGD momentum
 * @param clipNorm global gradient-norm clip (0: off)
 * @param labelSmoothing label smoothing
 * @param seed seed of weights, shuffling and dropout
 * @param steps planned total steps
 */
public record RunSettings(String preset, String attention, String twicingLayers, String data, String dataDir,
    int batch, double lr, double minLr, long warmup, LrSchedule.Kind schedule, OptimizerKind optimizer,
    double weightDecay,
    double momentum, double clipNorm, double labelSmoothing, long seed, long steps) {
  /** Prefix of the metadata keys. */
  public static final String PREFIX = MetadataKeys.RUN_PREFIX;

  /** Validates the values, naming the option at fault. */
  public RunSettings {
    if (batch <= 0) {
      throw new IllegalArgumentException("--batch must be positive, got " + batch);
    }
    if (!(lr > 0)) {
      throw new IllegalArgumentException("--lr must be positive, got " + lr);
    }
    if (warmup < 0) {
      throw new IllegalArgumentException("--warmup must be >= 0, got " + warmup);
    }
    Objects.requireNonNull(schedule, "schedule");
    Objects.requireNonNull(optimizer, "optimizer");
    if (weightDecay < 0) {
      throw new IllegalArgumentException("--weight-decay must be >= 0, got " + weightDecay);
    }
    if (clipNorm < 0) {
      throw new IllegalArgumentException("--clip-norm must be >= 0 (0 disables), got " + clipNorm);
    }
    if (labelSmoothing < 0 || labelSmoothing >= 1) {
      throw new IllegalArgumentException("--label-smoothing must be in [0, 1), got " + labelSmoothing);
    }
  }

  /** The preset with the attention overrides applied, or the imported model when the run trains an ONNX file. */
  public TaskModel model() {
    if (ForeignModelSpec.isSpec(preset)) {
      return ForeignModelSpec.parse(preset).load();
    }
    PresetOptions o = PresetOptions.defaults();
    if (attention != null) {
      o = o.withAttention(attention);
    }
    if (twicingLayers != null) {
      o = o.withTwicingLayers(twicingLayers);
    }
    return Zoo.build(preset, o);
  }

  /** Loss, optimizer (AdamW betas 0.9/0.999, eps 1e-8), clipping; the dropout seed is the run's seed. */
  public TrainingSpec spec() {
    Optimizer opt = optimizer.create(0.9, 0.999, 1e-8, momentum, weightDecay);
    return new TrainingSpec(new CrossEntropy(labelSmoothing, -100), opt, clipNorm, seed);
  }

  /** The learning-rate schedule over {@link #steps()}. */
  public LrSchedule lrSchedule() {
    return schedule == LrSchedule.Kind.COSINE ? LrSchedule.warmupCosine(lr, warmup, steps, Math.min(minLr, lr))
        : LrSchedule.warmupConstant(lr, warmup);
  }

  /** The same settings with another planned total. */
  public RunSettings withSteps(long newSteps) {
    return toBuilder().steps(newSteps).build();
  }

  /** The spelling of {@code schedule} on the command line and in metadata ({@code cosine}, {@code constant}). */
  public static String spelling(LrSchedule.Kind schedule) {
    return schedule.name().toLowerCase(Locale.ROOT);
  }

  /** Reads a {@code --schedule} spelling, ignoring case; fails naming the option and the text. */
  public static LrSchedule.Kind parseSchedule(String text) {
    for (LrSchedule.Kind k : LrSchedule.Kind.values()) {
      if (spelling(k).equals(text.toLowerCase(Locale.ROOT))) {
        return k;
      }
    }
    throw new IllegalArgumentException("--schedule must be constant or cosine, got '" + text + "'");
  }

  /**
   * A builder for a run of {@code preset} on {@code data}. {@code steps} has no default; the others default as
   * {@code twicing train} does: batch 64, lr 1e-3, min lr lr/100, no warm-up, cosine, AdamW, weight decay 0.05,
   * momentum 0.9, no clipping, no label smoothing, seed 0, no overrides, no data directory.
   */
  public static Builder builder(String preset, String data) {
    return new Builder(preset, data);
  }

  /** A builder holding these settings, to derive a variant. */
  public Builder toBuilder() {
    return new Builder(preset, data).attention(attention).twicingLayers(twicingLayers).dataDir(dataDir).batch(batch)
        .lr(lr).minLr(minLr).warmup(warmup).schedule(schedule).optimizer(optimizer).weightDecay(weightDecay)
        .momentum(momentum).clipNorm(clipNorm).labelSmoothing(labelSmoothing).seed(seed).steps(steps);
  }

  /** Named settings of a {@link RunSettings}; the record's constructor validates them. */
  public static final class Builder {
    private final String preset;
    private final String data;
    private String attention;
    private String twicingLayers;
    private String dataDir;
    private int batch = 64;
    private double lr = 1e-3;
    private Double minLr;
    private long warmup;
    private LrSchedule.Kind schedule = LrSchedule.Kind.COSINE;
    private OptimizerKind optimizer = OptimizerKind.ADAMW;
    private double weightDecay = 0.05;
    private double momentum = 0.9;
    private double clipNorm;
    private double labelSmoothing;
    private long seed;
    private long steps = -1;

    private Builder(String preset, String data) {
      this.preset = preset;
      this.data = data;
    }

    /** The {@code --attention} override, or null for the preset's kinds. */
    public Builder attention(String v) {
      this.attention = v;
      return this;
    }

    /** The {@code --twicing-layers} override, or null for the preset's layers. */
    public Builder twicingLayers(String v) {
      this.twicingLayers = v;
      return this;
    }

    /** The Fashion-MNIST directory, or null. */
    public Builder dataDir(String v) {
      this.dataDir = v;
      return this;
    }

    /** Examples per step. */
    public Builder batch(int v) {
      this.batch = v;
      return this;
    }

    /** Peak learning rate. */
    public Builder lr(double v) {
      this.lr = v;
      return this;
    }

    /** Final learning rate of the cosine schedule (default: lr/100). */
    public Builder minLr(double v) {
      this.minLr = v;
      return this;
    }

    /** Linear warm-up steps. */
    public Builder warmup(long v) {
      this.warmup = v;
      return this;
    }

    /** The shape after warm-up. */
    public Builder schedule(LrSchedule.Kind v) {
      this.schedule = v;
      return this;
    }

    /** The optimizer. */
    public Builder optimizer(OptimizerKind v) {
      this.optimizer = v;
      return this;
    }

    /** Weight decay. */
    public Builder weightDecay(double v) {
      this.weightDecay = v;
      return this;
    }

    /** SGD momentum. */
    public Builder momentum(double v) {
      this.momentum = v;
      return this;
    }

    /** Global gradient-norm clip (0: off). */
    public Builder clipNorm(double v) {
      this.clipNorm = v;
      return this;
    }

    /** Label smoothing. */
    public Builder labelSmoothing(double v) {
      this.labelSmoothing = v;
      return this;
    }

    /** Seed of weights, shuffling and dropout. */
    public Builder seed(long v) {
      this.seed = v;
      return this;
    }

    /** Planned total steps. */
    public Builder steps(long v) {
      this.steps = v;
      return this;
    }

    /** The settings; fails naming the option at fault. */
    public RunSettings build() {
      if (steps < 0) {
        throw new IllegalArgumentException("run settings of '" + preset + "': steps not set");
      }
      return new RunSettings(preset, attention, twicingLayers, data, dataDir, batch, lr,
          minLr != null ? minLr : lr / 100, warmup, schedule, optimizer, weightDecay, momentum, clipNorm,
          labelSmoothing, seed, steps);
    }
  }

  /** The settings as {@code twicing.run.*} metadata (absent options are left out). */
  public Map<String, String> toMetadata() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put(PREFIX + "preset", preset);
    if (attention != null) {
      m.put(PREFIX + "attention", attention);
    }
    if (twicingLayers != null) {
      m.put(PREFIX + "twicing_layers", twicingLayers);
    }
    m.put(PREFIX + "data", data);
    if (dataDir != null) {
      m.put(PREFIX + "data_dir", dataDir);
    }
    m.put(PREFIX + "batch", Integer.toString(batch));
    m.put(PREFIX + "lr", Double.toString(lr));
    m.put(PREFIX + "min_lr", Double.toString(minLr));
    m.put(PREFIX + "warmup", Long.toString(warmup));
    m.put(PREFIX + "schedule", spelling(schedule));
    m.put(PREFIX + "optimizer", optimizer.spelling());
    m.put(PREFIX + "weight_decay", Double.toString(weightDecay));
    m.put(PREFIX + "momentum", Double.toString(momentum));
    m.put(PREFIX + "clip_norm", Double.toString(clipNorm));
    m.put(PREFIX + "label_smoothing", Double.toString(labelSmoothing));
    m.put(PREFIX + "seed", Long.toString(seed));
    m.put(PREFIX + "steps", Long.toString(steps));
    return m;
  }

  /** Whether {@code metadata} holds run settings. */
  public static boolean present(Map<String, String> metadata) {
    return metadata.containsKey(PREFIX + "preset");
  }

  /** Reads {@link #toMetadata()}'s output; errors name {@code origin} (the file) and the missing or bad key. */
  public static RunSettings fromMetadata(Map<String, String> metadata, String origin) {
    if (!present(metadata)) {
      throw new IllegalArgumentException(origin + ": has no '" + PREFIX + "preset' metadata; it was not written by"
          + " 'twicing train', so the model it belongs to is unknown");
    }
    try {
      return builder(get(metadata, "preset", origin), get(metadata, "data", origin))
          .attention(opt(metadata, "attention").orElse(null))
          .twicingLayers(opt(metadata, "twicing_layers").orElse(null))
          .dataDir(opt(metadata, "data_dir").orElse(null))
          .batch(Integer.parseInt(get(metadata, "batch", origin)))
          .lr(Double.parseDouble(get(metadata, "lr", origin)))
          .minLr(Double.parseDouble(get(metadata, "min_lr", origin)))
          .warmup(Long.parseLong(get(metadata, "warmup", origin)))
          .schedule(parseSchedule(get(metadata, "schedule", origin)))
          .optimizer(OptimizerKind.parse(get(metadata, "optimizer", origin)))
          .weightDecay(Double.parseDouble(get(metadata, "weight_decay", origin)))
          .momentum(Double.parseDouble(get(metadata, "momentum", origin)))
          .clipNorm(Double.parseDouble(get(metadata, "clip_norm", origin)))
          .labelSmoothing(Double.parseDouble(get(metadata, "label_smoothing", origin)))
          .seed(Long.parseLong(get(metadata, "seed", origin)))
          .steps(Long.parseLong(get(metadata, "steps", origin)))
          .build();
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(origin + ": bad run metadata: " + e.getMessage(), e);
    }
  }

  private static String get(Map<String, String> m, String key, String origin) {
    String v = m.get(PREFIX + key);
    if (v == null) {
      throw new IllegalArgumentException(origin + ": run metadata lacks '" + PREFIX + key + "'");
    }
    return v;
  }

  private static Optional<String> opt(Map<String, String> m, String key) {
    return Optional.ofNullable(m.get(PREFIX + key));
  }
}

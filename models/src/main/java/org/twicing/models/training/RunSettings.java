package org.twicing.models.training;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
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
 * @param schedule {@code cosine} or {@code constant}
 * @param optimizer {@code adamw} or {@code sgd}
 * @param weightDecay weight decay
 * @param momentum SGD momentum
 * @param clipNorm global gradient-norm clip (0: off)
 * @param labelSmoothing label smoothing
 * @param seed seed of weights, shuffling and dropout
 * @param steps planned total steps
 */
public record RunSettings(String preset, String attention, String twicingLayers, String data, String dataDir,
    int batch, double lr, double minLr, long warmup, String schedule, String optimizer, double weightDecay,
    double momentum, double clipNorm, double labelSmoothing, long seed, long steps) {
  /** Prefix of the metadata keys. */
  public static final String PREFIX = "twicing.run.";

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
    schedule = schedule.toLowerCase(Locale.ROOT);
    if (!schedule.equals("cosine") && !schedule.equals("constant")) {
      throw new IllegalArgumentException("--schedule must be constant or cosine, got '" + schedule + "'");
    }
    optimizer = optimizer.toLowerCase(Locale.ROOT);
    if (!optimizer.equals("adamw") && !optimizer.equals("sgd")) {
      throw new IllegalArgumentException("--optimizer must be adamw or sgd, got '" + optimizer + "'");
    }
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
    Optimizer opt = optimizer.equals("adamw") ? new Optimizer.AdamW(0.9, 0.999, 1e-8, weightDecay)
        : new Optimizer.Sgd(momentum, weightDecay);
    return new TrainingSpec(new CrossEntropy(labelSmoothing, -100), opt, clipNorm, seed);
  }

  /** The learning-rate schedule over {@link #steps()}. */
  public LrSchedule lrSchedule() {
    return schedule.equals("cosine") ? LrSchedule.warmupCosine(lr, warmup, steps, Math.min(minLr, lr))
        : LrSchedule.warmupConstant(lr, warmup);
  }

  /** The same settings with another planned total. */
  public RunSettings withSteps(long newSteps) {
    return new RunSettings(preset, attention, twicingLayers, data, dataDir, batch, lr, minLr, warmup, schedule,
        optimizer, weightDecay, momentum, clipNorm, labelSmoothing, seed, newSteps);
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
    m.put(PREFIX + "schedule", schedule);
    m.put(PREFIX + "optimizer", optimizer);
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
      return new RunSettings(get(metadata, "preset", origin), opt(metadata, "attention").orElse(null),
          opt(metadata, "twicing_layers").orElse(null), get(metadata, "data", origin),
          opt(metadata, "data_dir").orElse(null), Integer.parseInt(get(metadata, "batch", origin)),
          Double.parseDouble(get(metadata, "lr", origin)), Double.parseDouble(get(metadata, "min_lr", origin)),
          Long.parseLong(get(metadata, "warmup", origin)), get(metadata, "schedule", origin),
          get(metadata, "optimizer", origin), Double.parseDouble(get(metadata, "weight_decay", origin)),
          Double.parseDouble(get(metadata, "momentum", origin)), Double.parseDouble(get(metadata, "clip_norm", origin)),
          Double.parseDouble(get(metadata, "label_smoothing", origin)), Long.parseLong(get(metadata, "seed", origin)),
          Long.parseLong(get(metadata, "steps", origin)));
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

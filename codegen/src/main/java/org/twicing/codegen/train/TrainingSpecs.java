package org.twicing.codegen.train;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.twicing.codegen.emit.MetadataKeys;

/**
 * Writes a {@link TrainingSpec} as one line of {@code key=value} pairs (as stored in checkpoint metadata) and reads
 * it back exactly, e.g. {@code optimizer=adamw;beta1=0.9;beta2=0.999;eps=1.0E-8;weight_decay=0.05;
 * label_smoothing=0.0;ignore_index=-100;clip_norm=0.0;dropout_seed=0}.
 */
public final class TrainingSpecs {
  /** Metadata key under which checkpoints and training-step models record the encoded spec. */
  public static final String METADATA_KEY = MetadataKeys.TRAINING_SPEC;

  private TrainingSpecs() { }

  /** The one-line form of {@code spec}. */
  public static String encode(TrainingSpec spec) {
    StringBuilder sb = new StringBuilder();
    if (spec.optimizer() instanceof Optimizer.AdamW a) {
      sb.append("optimizer=adamw;beta1=").append(a.beta1()).append(";beta2=").append(a.beta2()).append(";eps=")
          .append(a.eps()).append(";weight_decay=").append(a.weightDecay());
    } else if (spec.optimizer() instanceof Optimizer.Sgd s) {
      sb.append("optimizer=sgd;momentum=").append(s.momentum()).append(";weight_decay=").append(s.weightDecay());
    } else {
      throw new IllegalArgumentException("unknown optimizer " + spec.optimizer());
    }
    sb.append(";label_smoothing=").append(spec.loss().labelSmoothing()).append(";ignore_index=")
        .append(spec.loss().ignoreIndex()).append(";clip_norm=").append(spec.clipNorm()).append(";dropout_seed=")
        .append(spec.dropoutSeed());
    return sb.toString();
  }

  /** Reads {@link #encode}'s output; {@code origin} (a file) is named in errors. */
  public static TrainingSpec decode(String text, String origin) {
    Map<String, String> kv = new LinkedHashMap<>();
    for (String part : text.split(";")) {
      int eq = part.indexOf('=');
      if (eq > 0) {
        kv.put(part.substring(0, eq).trim(), part.substring(eq + 1).trim());
      }
    }
    try {
      String opt = req(kv, "optimizer").toLowerCase(Locale.ROOT);
      Optimizer optimizer = switch (opt) {
        case "adamw" -> new Optimizer.AdamW(d(kv, "beta1"), d(kv, "beta2"), d(kv, "eps"), d(kv, "weight_decay"));
        case "sgd" -> new Optimizer.Sgd(d(kv, "momentum"), d(kv, "weight_decay"));
        default -> throw new IllegalArgumentException("unknown optimizer '" + opt + "'");
      };
      return new TrainingSpec(new CrossEntropy(d(kv, "label_smoothing"), Long.parseLong(req(kv, "ignore_index"))),
          optimizer, d(kv, "clip_norm"), Long.parseLong(req(kv, "dropout_seed")));
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(origin + ": cannot read the training spec '" + text + "': "
          + e.getMessage(), e);
    }
  }

  private static double d(Map<String, String> kv, String key) {
    return Double.parseDouble(req(kv, key));
  }

  private static String req(Map<String, String> kv, String key) {
    String v = kv.get(key);
    if (v == null) {
      throw new IllegalArgumentException("'" + key + "' is missing");
    }
    return v;
  }
}

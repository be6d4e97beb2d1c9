package org.twicing.codegen.train;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.twicing.codegen.emit.MetadataKeys;

/**
 * Writes a {@link TrainingSpec} as a JSON object (as stored in checkpoint and model metadata) and reads it back
 * exactly, e.g. {@code {"optimizer":"adamw","beta1":0.9,"beta2":0.999,"eps":1.0E-8,"weight_decay":0.05,
 * "label_smoothing":0.0,"ignore_index":-100,"clip_norm":0.0,"dropout_seed":0}}. Files written before the JSON form
 * hold the same keys as one line of {@code key=value} pairs separated by {@code ;}, which {@link #decode} still reads.
 */
public final class TrainingSpecs {
  /** Metadata key under which checkpoints and training-step models record the encoded spec. */
  public static final String METADATA_KEY = MetadataKeys.TRAINING_SPEC;

  private TrainingSpecs() { }

  /** The JSON form of {@code spec}. */
  public static String encode(TrainingSpec spec) {
    JsonObject o = new JsonObject();
    if (spec.optimizer() instanceof Optimizer.AdamW a) {
      o.addProperty("optimizer", "adamw");
      o.addProperty("beta1", a.beta1());
      o.addProperty("beta2", a.beta2());
      o.addProperty("eps", a.eps());
      o.addProperty("weight_decay", a.weightDecay());
    } else if (spec.optimizer() instanceof Optimizer.Sgd sgd) {
      o.addProperty("optimizer", "sgd");
      o.addProperty("momentum", sgd.momentum());
      o.addProperty("weight_decay", sgd.weightDecay());
    } else {
      throw new IllegalArgumentException("unknown optimizer " + spec.optimizer());
    }
    o.addProperty("label_smoothing", spec.loss().labelSmoothing());
    o.addProperty("ignore_index", spec.loss().ignoreIndex());
    o.addProperty("clip_norm", spec.clipNorm());
    o.addProperty("dropout_seed", spec.dropoutSeed());
    return o.toString();
  }

  /** A one-line description for people, e.g. in errors: the optimizer, then the loss and clipping settings. */
  public static String describe(TrainingSpec spec) {
    return spec.optimizer().describe() + ", label_smoothing=" + spec.loss().labelSmoothing() + ", ignore_index="
        + spec.loss().ignoreIndex() + ", clip_norm=" + spec.clipNorm() + ", dropout_seed=" + spec.dropoutSeed();
  }

  /** Reads {@link #encode}'s output, or the older {@code key=value;...} form; {@code origin} (a file) is named in errors. */
  public static TrainingSpec decode(String text, String origin) {
    try {
      Map<String, String> kv = fields(text);
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

  /** The spec's keys and values as text, from the JSON object or from the older {@code k=v;k=v} line. */
  private static Map<String, String> fields(String text) {
    Map<String, String> kv = new LinkedHashMap<>();
    String t = text.trim();
    if (t.startsWith("{")) {
      for (Map.Entry<String, JsonElement> e : JsonParser.parseString(t).getAsJsonObject().entrySet()) {
        if (!e.getValue().isJsonPrimitive()) {
          throw new IllegalArgumentException("'" + e.getKey() + "' is not a number or a string");
        }
        JsonPrimitive p = e.getValue().getAsJsonPrimitive();
        kv.put(e.getKey(), p.isNumber() ? p.getAsNumber().toString() : p.getAsString());
      }
      return kv;
    }
    for (String part : t.split(";")) {
      int eq = part.indexOf('=');
      if (eq > 0) {
        kv.put(part.substring(0, eq).trim(), part.substring(eq + 1).trim());
      }
    }
    return kv;
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

package org.twicing.models.analysis;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.twicing.dsl.io.AtomicFile;

/** The numbers of one analysis: clean, noisy and adversarial accuracy and per-block token similarity. */
public record AnalysisReport(int examples, double cleanAccuracy, List<Noise> noise, List<Attack> attacks,
    List<Similarity> oversmoothing) {
  /** File name of the JSON report in a run directory. */
  public static final String FILE_NAME = "analysis.json";

  /** Pretty-printed, so that the report reads well in a terminal; nulls kept (they stand for non-finite numbers). */
  private static final Gson JSON = new GsonBuilder().setPrettyPrinting().serializeNulls().disableHtmlEscaping()
      .create();

  /** Accuracy under Gaussian noise of standard deviation {@code std} (normalised pixel units). */
  public record Noise(double std, double accuracy) { }

  /** Accuracy under attack {@code kind} (fgsm or pgd) at L-infinity radius {@code epsilon}. */
  public record Attack(String kind, double epsilon, int steps, double alpha, double accuracy) { }

  /** Mean off-diagonal cosine similarity of the tokens output by block {@code block} at depth {@code depth}. */
  public record Similarity(int depth, String block, double cosine) { }

  /** The report as human-readable lines. */
  public String format() {
    StringBuilder sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "%-40s %.4f%n", "clean accuracy", cleanAccuracy));
    for (Noise n : noise) {
      sb.append(String.format(Locale.ROOT, "%-40s %.4f%n", "gaussian noise std " + num(n.std()), n.accuracy()));
    }
    for (Attack a : attacks) {
      String label = a.kind() + " eps " + num(a.epsilon())
          + (a.kind().equals("pgd") ? " (" + a.steps() + " steps, alpha " + num(a.alpha()) + ")" : "");
      sb.append(String.format(Locale.ROOT, "%-40s %.4f%n", label, a.accuracy()));
    }
    if (!oversmoothing.isEmpty()) {
      sb.append("oversmoothing: mean off-diagonal cosine similarity of token vectors by depth\n");
      sb.append(String.format(Locale.ROOT, "  %-6s %-12s %s%n", "depth", "block", "cosine"));
      for (Similarity s : oversmoothing) {
        sb.append(String.format(Locale.ROOT, "  %-6d %-12s %.4f%n", s.depth(), s.block(), s.cosine()));
      }
    }
    return sb.toString();
  }

  /**
   * The report as a pretty-printed JSON object; the {@code header} fields (strings or numbers, such as the run, the
   * preset and the step) come first, then {@code examples}, {@code clean_accuracy}, {@code noise},
   * {@code attacks} and {@code oversmoothing}. A non-finite number is written as {@code null}.
   */
  public String toJson(Map<String, ?> header) {
    JsonObject o = new JsonObject();
    header.forEach((k, v) -> o.add(k, value(k, v)));
    o.addProperty("examples", examples);
    o.add("clean_accuracy", number(cleanAccuracy));
    JsonArray noiseArray = new JsonArray();
    for (Noise n : noise) {
      JsonObject e = new JsonObject();
      e.add("std", number(n.std()));
      e.add("accuracy", number(n.accuracy()));
      noiseArray.add(e);
    }
    o.add("noise", noiseArray);
    JsonArray attackArray = new JsonArray();
    for (Attack a : attacks) {
      JsonObject e = new JsonObject();
      e.addProperty("kind", a.kind());
      e.add("epsilon", number(a.epsilon()));
      e.addProperty("steps", a.steps());
      e.add("alpha", number(a.alpha()));
      e.add("accuracy", number(a.accuracy()));
      attackArray.add(e);
    }
    o.add("attacks", attackArray);
    JsonArray similarityArray = new JsonArray();
    for (Similarity s : oversmoothing) {
      JsonObject e = new JsonObject();
      e.addProperty("depth", s.depth());
      e.addProperty("block", s.block());
      e.add("cosine", number(s.cosine()));
      similarityArray.add(e);
    }
    o.add("oversmoothing", similarityArray);
    return JSON.toJson(o) + "\n";
  }

  /** Writes {@code json} to {@code file} atomically (through {@link AtomicFile}: a synced temporary file, renamed). */
  public static void writeAtomically(Path file, String json) throws IOException {
    AtomicFile.write(file, json.getBytes(StandardCharsets.UTF_8));
  }

  private static JsonElement value(String key, Object v) {
    if (v instanceof String str) {
      return new JsonPrimitive(str);
    }
    if (v instanceof Number n) {
      return number(n.doubleValue()).isJsonNull() ? JsonNull.INSTANCE : new JsonPrimitive(n);
    }
    throw new IllegalArgumentException("report header '" + key + "' must be a string or a number, got "
        + (v == null ? "null" : v.getClass().getSimpleName()));
  }

  private static JsonElement number(double v) {
    return Double.isFinite(v) ? new JsonPrimitive(v) : JsonNull.INSTANCE;
  }

  private static String num(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
  }
}

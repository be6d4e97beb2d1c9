package org.twicing.models.analysis;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.twicing.dsl.io.AtomicFile;

/** The numbers of one analysis: clean, noisy and adversarial accuracy and per-block token similarity. */
public record AnalysisReport(int examples, double cleanAccuracy, List<Noise> noise, List<Attack> attacks,
    List<Similarity> oversmoothing) {
  /** File name of the JSON report in a run directory. */
  public static final String FILE_NAME = "analysis.json";

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

  /** The report as a JSON object; {@code header} fields (already JSON-encoded values) come first. */
  public String toJson(java.util.Map<String, String> header) {
    StringBuilder sb = new StringBuilder("{\n");
    header.forEach((k, v) -> sb.append("  ").append(quote(k)).append(": ").append(v).append(",\n"));
    sb.append("  \"examples\": ").append(examples).append(",\n");
    sb.append("  \"clean_accuracy\": ").append(json(cleanAccuracy)).append(",\n");
    sb.append("  \"noise\": [");
    for (int i = 0; i < noise.size(); i++) {
      Noise n = noise.get(i);
      sb.append(i == 0 ? "\n" : ",\n").append("    {\"std\": ").append(json(n.std())).append(", \"accuracy\": ")
          .append(json(n.accuracy())).append('}');
    }
    sb.append(noise.isEmpty() ? "],\n" : "\n  ],\n");
    sb.append("  \"attacks\": [");
    for (int i = 0; i < attacks.size(); i++) {
      Attack a = attacks.get(i);
      sb.append(i == 0 ? "\n" : ",\n").append("    {\"kind\": ").append(quote(a.kind())).append(", \"epsilon\": ")
          .append(json(a.epsilon())).append(", \"steps\": ").append(a.steps()).append(", \"alpha\": ")
          .append(json(a.alpha())).append(", \"accuracy\": ").append(json(a.accuracy())).append('}');
    }
    sb.append(attacks.isEmpty() ? "],\n" : "\n  ],\n");
    sb.append("  \"oversmoothing\": [");
    for (int i = 0; i < oversmoothing.size(); i++) {
      Similarity s = oversmoothing.get(i);
      sb.append(i == 0 ? "\n" : ",\n").append("    {\"depth\": ").append(s.depth()).append(", \"block\": ")
          .append(quote(s.block())).append(", \"cosine\": ").append(json(s.cosine())).append('}');
    }
    sb.append(oversmoothing.isEmpty() ? "]\n" : "\n  ]\n");
    return sb.append("}\n").toString();
  }

  /** Writes {@code json} to {@code file} atomically (through {@link AtomicFile}: a synced temporary file, renamed). */
  public static void writeAtomically(Path file, String json) throws IOException {
    AtomicFile.write(file, json.getBytes(StandardCharsets.UTF_8));
  }

  /** A JSON string literal. */
  public static String quote(String s) {
    StringBuilder sb = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        default -> {
          if (c < 0x20) {
            sb.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    return sb.append('"').toString();
  }

  private static String json(double v) {
    return Double.isFinite(v) ? Double.toString(v) : "null";
  }

  private static String num(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
  }
}

package org.twicing.models.bench;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * A summary of an ONNX Runtime profile (the Chrome-trace JSON its session profiler writes): kernel time per op
 * type, per part of the model and per node with the layers merged. Parts come from our hierarchical node names:
 * {@code optimizer.*} is the update, {@code loss/*} the loss, scopes with {@code .grad} the backward pass, and
 * {@code .attn}, {@code .mlp}, {@code norm} the attention, MLP and LayerNorm blocks.
 */
public final class ProfileSummary {
  private static final Pattern LAYER_INDEX = Pattern.compile("\\.(\\d+)\\.");
  /** The suffixes ONNX Runtime appends to a node it fused ({@code /MatmulTransposeFusion/}, ...). */
  private static final Pattern FUSION_SUFFIX = Pattern.compile("(/+[A-Za-z0-9_]*Fusion/*)+$");

  private final Map<String, Double> byOpType;
  private final Map<String, Double> byPart;
  private final Map<String, Double> byNode;
  private final double totalUs;
  private final int runs;

  private ProfileSummary(Map<String, Double> byOpType, Map<String, Double> byPart, Map<String, Double> byNode,
      double totalUs, int runs) {
    this.byOpType = byOpType;
    this.byPart = byPart;
    this.byNode = byNode;
    this.totalUs = totalUs;
    this.runs = runs;
  }

  /** Reads a profile file, every run; fails naming it when it is not ONNX Runtime's trace format. */
  public static ProfileSummary read(Path file) throws IOException {
    return read(file, 0);
  }

  /**
   * Reads a profile file, leaving out the first {@code skipRuns} session runs (a fresh session's first runs grow
   * its memory arena and are several times slower, so they would distort the shares); fails naming the file when
   * it is not ONNX Runtime's trace format, or when it holds no more than {@code skipRuns} runs.
   */
  public static ProfileSummary read(Path file, int skipRuns) throws IOException {
    JsonElement root;
    try {
      root = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8));
    } catch (RuntimeException e) {
      throw new IOException(file + ": not an ONNX Runtime profile (" + e.getMessage() + ")", e);
    }
    if (!root.isJsonArray()) {
      throw new IOException(file + ": not an ONNX Runtime profile (expected a JSON array of trace events)");
    }
    List<double[]> windows = new ArrayList<>();
    for (JsonElement e : root.getAsJsonArray()) {
      JsonObject o = e.getAsJsonObject();
      if (str(o, "cat").equals("Session") && str(o, "name").equals("model_run")) {
        double ts = o.has("ts") ? o.get("ts").getAsDouble() : 0;
        double dur = o.has("dur") ? o.get("dur").getAsDouble() : 0;
        windows.add(new double[] {ts, ts + dur});
      }
    }
    if (skipRuns > 0 && windows.size() <= skipRuns) {
      throw new IOException(file + ": holds " + windows.size() + " session runs, not more than the " + skipRuns
          + " warm-up runs to leave out");
    }
    windows.sort((a, b) -> Double.compare(a[0], b[0]));
    List<double[]> kept = windows.subList(Math.min(skipRuns, windows.size()), windows.size());
    Map<String, Double> ops = new TreeMap<>();
    Map<String, Double> parts = new TreeMap<>();
    Map<String, Double> nodes = new TreeMap<>();
    double total = 0;
    for (JsonElement e : root.getAsJsonArray()) {
      JsonObject o = e.getAsJsonObject();
      String name = str(o, "name");
      if (!str(o, "cat").equals("Node") || !name.endsWith("_kernel_time") || !o.has("dur")) {
        continue;
      }
      if (skipRuns > 0 && !(o.has("ts") && within(kept, o.get("ts").getAsDouble()))) {
        continue;
      }
      double dur = o.get("dur").getAsDouble();
      JsonObject args = o.has("args") ? o.getAsJsonObject("args") : new JsonObject();
      String op = args.has("op_name") ? args.get("op_name").getAsString() : "?";
      String node = name.substring(0, name.length() - "_kernel_time".length());
      ops.merge(op, dur, Double::sum);
      parts.merge(part(node), dur, Double::sum);
      nodes.merge(layersMerged(node) + " (" + op + ")", dur, Double::sum);
      total += dur;
    }
    return new ProfileSummary(sorted(ops), sorted(parts), sorted(nodes), total, kept.size());
  }

  private static String str(JsonObject o, String key) {
    return o.has(key) ? o.get(key).getAsString() : "";
  }

  private static boolean within(List<double[]> windows, double ts) {
    for (double[] w : windows) {
      if (ts >= w[0] && ts <= w[1]) {
        return true;
      }
    }
    return false;
  }

  /**
   * A node name with its layer indices replaced by {@code *} ({@code blocks.3.mlp/Erf} becomes
   * {@code blocks.*.mlp/Erf}) and ONNX Runtime's fusion suffixes dropped (the op type says FusedMatMul), so the
   * same node of every layer adds up into one row under our own name.
   */
  public static String layersMerged(String node) {
    return LAYER_INDEX.matcher(FUSION_SUFFIX.matcher(node).replaceAll("")).replaceAll(".*.");
  }

  /** The part of the model a node belongs to, from its name. */
  public static String part(String node) {
    String scope = node.contains("/") ? node.substring(0, node.lastIndexOf('/')) : node;
    if (scope.startsWith("optimizer")) {
      return "optimizer";
    }
    if (scope.startsWith("loss")) {
      return "loss";
    }
    if (scope.startsWith("outputs")) {
      return "outputs";
    }
    String dir = scope.contains(".grad") || scope.endsWith("grad") ? "backward" : "forward";
    String what = scope.contains(".attn") ? "attention" : scope.contains(".mlp") ? "MLP"
        : scope.contains("norm") ? "LayerNorm" : "other (embedding, head, graph glue)";
    return what + ", " + dir;
  }

  private static Map<String, Double> sorted(Map<String, Double> m) {
    Map<String, Double> out = new LinkedHashMap<>();
    m.entrySet().stream().sorted((a, b) -> Double.compare(b.getValue(), a.getValue()))
        .forEach(e -> out.put(e.getKey(), e.getValue()));
    return out;
  }

  /** Kernel microseconds per op type, largest first. */
  public Map<String, Double> byOpType() {
    return byOpType;
  }

  /** Kernel microseconds per node with the layers merged ({@link #layersMerged}) and its op type, largest first. */
  public Map<String, Double> byNode() {
    return byNode;
  }

  /** Kernel microseconds per model part, largest first. */
  public Map<String, Double> byPart() {
    return byPart;
  }

  /** All kernel microseconds. */
  public double totalUs() {
    return totalUs;
  }

  /** Session runs the profile covers. */
  public int runs() {
    return runs;
  }

  /**
   * Three markdown tables (per part, the top {@code topOps} op types, and the top {@code topOps} nodes with the
   * layers merged), in ms per run and share of kernel time.
   */
  public String markdown(int topOps) {
    StringBuilder sb = new StringBuilder();
    double per = Math.max(1, runs);
    sb.append(String.format(Locale.ROOT, "kernel time %.1f ms per run over %d runs%n%n", totalUs / 1e3 / per, runs));
    table(sb, "part", byPart, per, Integer.MAX_VALUE);
    sb.append('\n');
    table(sb, "op type", byOpType, per, topOps);
    sb.append('\n');
    table(sb, "node, layers merged (op type)", byNode, per, topOps);
    return sb.toString();
  }

  private void table(StringBuilder sb, String what, Map<String, Double> m, double per, int limit) {
    sb.append("| ").append(what).append(" | ms / run | share |\n|---|---|---|\n");
    int i = 0;
    double rest = 0;
    for (Map.Entry<String, Double> e : m.entrySet()) {
      if (i++ < limit) {
        sb.append(String.format(Locale.ROOT, "| %s | %.2f | %.1f%% |%n", e.getKey(), e.getValue() / 1e3 / per,
            100 * e.getValue() / totalUs));
      } else {
        rest += e.getValue();
      }
    }
    if (rest > 0) {
      sb.append(String.format(Locale.ROOT, "| (others) | %.2f | %.1f%% |%n", rest / 1e3 / per, 100 * rest / totalUs));
    }
  }

  /** The op types seen, for tests. */
  List<String> opTypes() {
    return List.copyOf(byOpType.keySet());
  }
}

package org.twicing.models.study;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;
import org.twicing.codegen.cost.FlopCounter;
import org.twicing.codegen.graphs.InferenceGraph;
import org.twicing.dsl.io.AtomicFile;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.models.zoo.PresetOptions;
import org.twicing.models.zoo.Zoo;
import org.twicing.runtime.train.MetricsLog;

/**
 * Reads what a study's runs produced (metrics.jsonl, analysis.json, lm-test.json) and writes DIR/RESULTS.md with
 * mean ± std over seeds, paired comparisons against softmax, the figures (PNG) and the table of the paper's claims
 * next to what was measured. Only finished runs count; the file says which are missing.
 */
public final class StudyResults {
  /** The results file in the study directory. */
  public static final String FILE_NAME = "RESULTS.md";
  /** The baseline every other setting is compared with. */
  static final String BASELINE = "softmax";

  private StudyResults() { }

  /** What one finished vision run measured. */
  record VisionRun(String kind, long seed, double accuracy, double clean, Map<Double, Double> noise,
      Map<Double, Double> fgsm, Map<Double, Double> pgd, Map<Integer, Double> cosine) { }

  /** What one finished language run measured. */
  record LanguageRun(String setting, long seed, double bitsPerByte, double perplexity, double validLoss,
      String prompt, String sample) { }

  /** Rewrites RESULTS.md and the figures from the runs finished so far. */
  public static void write(StudyPlan plan, Path dir, PrintWriter out) throws IOException {
    List<StudyRun> runs = plan.runs();
    List<VisionRun> vision = new ArrayList<>();
    List<LanguageRun> language = new ArrayList<>();
    List<String> missing = new ArrayList<>();
    for (StudyRun r : runs) {
      Path run = r.directory(dir);
      if (r.kind() == StudyRun.Kind.VISION) {
        VisionRun v = readVision(r, run);
        if (v == null) {
          missing.add(r.name());
        } else {
          vision.add(v);
        }
      } else {
        LanguageRun l = readLanguage(r, run);
        if (l == null) {
          missing.add(r.name());
        } else {
          language.add(l);
        }
      }
    }
    StringBuilder md = new StringBuilder();
    md.append("# Reproduction study: ").append(plan.name()).append("\n\n");
    md.append("Made by `./twicing study --out ").append(dir).append(plan.name().equals("default") ? ""
        : " --plan " + dir.resolve(StudyRunner.PLAN_FILE)).append("` (resumable: the same command "
        + "continues it). The plan is in `").append(StudyRunner.PLAN_FILE).append("`.\n\n");
    md.append(String.format(Locale.ROOT, "Finished runs: %d of %d.", runs.size() - missing.size(), runs.size()));
    if (!missing.isEmpty()) {
      md.append(" Not finished yet: ").append(String.join(", ", missing)).append(".");
    }
    md.append("\n\nEvery ± is the sample standard deviation over seeds; paired comparisons take the difference "
        + "per seed (same seed = same initial weights for the shared parameters and the same data order) and give "
        + "Student's t with n − 1 degrees of freedom and its two-sided p-value. With 3 seeds only a large, "
        + "consistent difference is significant.\n");
    Claims claims = new Claims();
    if (plan.vision() != null) {
      visionSections(md, plan, dir, vision, claims);
    }
    if (plan.language() != null) {
      languageSections(md, plan, language, claims);
    }
    flops(md, claims);
    claims.write(md);
    AtomicFile.write(dir.resolve(FILE_NAME), md.toString().getBytes(StandardCharsets.UTF_8));
    out.println("study: wrote " + dir.resolve(FILE_NAME) + " (" + (runs.size() - missing.size()) + " of "
        + runs.size() + " runs finished)");
  }

  private static VisionRun readVision(StudyRun r, Path run) throws IOException {
    Path analysis = run.resolve("analysis.json");
    Path metrics = run.resolve(MetricsLog.FILE_NAME);
    if (!Files.isRegularFile(analysis) || !Files.isRegularFile(metrics)) {
      return null;
    }
    Double acc = lastValue(metrics, "eval_accuracy");
    JsonObject a = JsonParser.parseString(Files.readString(analysis, StandardCharsets.UTF_8)).getAsJsonObject();
    Map<Double, Double> noise = new TreeMap<>();
    for (JsonElement e : array(a, "noise")) {
      noise.put(e.getAsJsonObject().get("std").getAsDouble(), e.getAsJsonObject().get("accuracy").getAsDouble());
    }
    Map<Double, Double> fgsm = new TreeMap<>();
    Map<Double, Double> pgd = new TreeMap<>();
    for (JsonElement e : array(a, "attacks")) {
      JsonObject o = e.getAsJsonObject();
      double eps255 = Math.round(o.get("epsilon").getAsDouble() * 255 * 1000) / 1000.0;
      (o.get("kind").getAsString().equals("pgd") ? pgd : fgsm).put(eps255, o.get("accuracy").getAsDouble());
    }
    Map<Integer, Double> cos = new TreeMap<>();
    for (JsonElement e : array(a, "oversmoothing")) {
      cos.put(e.getAsJsonObject().get("depth").getAsInt(), e.getAsJsonObject().get("cosine").getAsDouble());
    }
    return new VisionRun(r.setting(), r.seed(), acc == null ? Double.NaN : acc,
        a.get("clean_accuracy").getAsDouble(), noise, fgsm, pgd, cos);
  }

  private static LanguageRun readLanguage(StudyRun r, Path run) throws IOException {
    Path file = run.resolve(StudyRunner.LM_RESULT_FILE);
    if (!Files.isRegularFile(file)) {
      return null;
    }
    JsonObject o = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8)).getAsJsonObject();
    Double valid = lastValue(run.resolve(MetricsLog.FILE_NAME), "eval_loss");
    return new LanguageRun(r.setting(), r.seed(), o.get("test_bits_per_byte").getAsDouble(),
        o.get("test_perplexity").getAsDouble(), valid == null ? Double.NaN : valid,
        o.has("prompt") ? o.get("prompt").getAsString() : null, o.has("sample") ? o.get("sample").getAsString() : null);
  }

  private static JsonArray array(JsonObject o, String key) {
    return o.has(key) ? o.getAsJsonArray(key) : new JsonArray();
  }

  private static Double lastValue(Path metrics, String key) throws IOException {
    if (!Files.isRegularFile(metrics)) {
      return null;
    }
    Double v = null;
    for (Map<String, Double> rec : MetricsLog.read(metrics)) {
      if (rec.containsKey(key)) {
        v = rec.get(key);
      }
    }
    return v;
  }

  // ---- vision ------------------------------------------------------------------------------------------------

  private static void visionSections(StringBuilder md, StudyPlan plan, Path dir, List<VisionRun> runs,
      Claims claims) throws IOException {
    StudyPlan.Vision v = plan.vision();
    md.append("\n## Vision: ").append(v.model()).append(" on Fashion-MNIST\n\n");
    md.append(String.format(Locale.ROOT, "%s, batch %d, the training command's defaults otherwise (AdamW lr 1e-3, "
        + "5%% warm-up then cosine, weight decay 0.05); test accuracy on all 10,000 test images.%n%n",
        v.steps() > 0 ? v.steps() + " steps" : v.epochs() + " epochs", v.batch()));
    md.append("| attention | seeds | test accuracy | per seed |\n|---|---|---|---|\n");
    for (String kind : v.attention()) {
      List<VisionRun> rs = runs.stream().filter(r -> r.kind().equals(kind)).toList();
      List<Double> acc = rs.stream().map(VisionRun::accuracy).toList();
      md.append("| ").append(kind).append(" | ").append(rs.size()).append(" | ").append(pm(acc, 4)).append(" | ")
          .append(perSeed(rs.stream().map(r -> r.seed()).toList(), acc, 4)).append(" |\n");
    }
    pairedTable(md, v.attention(), kind -> byVisionSeed(runs, kind, VisionRun::accuracy), 4,
        "test accuracy, higher is better");
    Stats.Paired clean = paired(runs, "twicing", VisionRun::accuracy);
    claims.add("Clean accuracy: twicing slightly above softmax (ImageNet top-1 79.9 → 80.2, DeiT-Tiny)",
        describe(clean, 4, "accuracy"), verdict(clean, +1));

    StudyPlan.Robustness rb = v.robustness();
    md.append("\n### Robustness (pixel space, perturbed images clipped to [0, 1])\n\n");
    md.append(String.format(Locale.ROOT, "First %d test images; FGSM and PGD-%d (step ε/4, from the clean image) in "
        + "L∞ radius ε of the [0, 1] pixel range; Gaussian noise of standard deviation σ in the same units. "
        + "Accuracy, mean ± std over seeds.%n%n", rb.examples(), rb.pgdSteps()));
    List<String> kinds = v.attention();
    md.append("| perturbation |");
    kinds.forEach(k -> md.append(' ').append(k).append(" |"));
    kinds.stream().filter(k -> !k.equals(BASELINE)).forEach(k -> md.append(' ').append(k).append(" − softmax (p) |"));
    md.append("\n|---|");
    kinds.forEach(k -> md.append("---|"));
    kinds.stream().filter(k -> !k.equals(BASELINE)).forEach(k -> md.append("---|"));
    md.append('\n');
    robustnessRows(md, kinds, runs, "clean", r -> Map.of(0.0, r.clean()), "");
    robustnessRows(md, kinds, runs, "noise σ = ", VisionRun::noise, "");
    robustnessRows(md, kinds, runs, "FGSM ε = ", VisionRun::fgsm, "/255");
    robustnessRows(md, kinds, runs, "PGD ε = ", VisionRun::pgd, "/255");
    figure(dir, "robustness-fgsm.png", "FGSM accuracy vs radius", "epsilon (x/255)", "accuracy", kinds, runs,
        VisionRun::fgsm);
    figure(dir, "robustness-pgd.png", "PGD-" + rb.pgdSteps() + " accuracy vs radius", "epsilon (x/255)", "accuracy",
        kinds, runs, VisionRun::pgd);
    figure(dir, "robustness-noise.png", "Accuracy under Gaussian noise", "sigma (pixel units)", "accuracy", kinds,
        runs, VisionRun::noise);
    md.append("\n![FGSM](robustness-fgsm.png) ![PGD](robustness-pgd.png) ![noise](robustness-noise.png)\n");
    double topEps = rb.epsilons255().isEmpty() ? Double.NaN
        : rb.epsilons255().stream().mapToDouble(Double::doubleValue).max().getAsDouble();
    Stats.Paired pgdTop = paired(runs, "twicing", r -> r.pgd().getOrDefault(topEps, Double.NaN));
    claims.add("Robustness: twicing much more accurate under PGD (ImageNet 40.0 → 55.1)",
        "PGD ε = " + num(topEps) + "/255: " + describe(pgdTop, 4, "accuracy"), verdict(pgdTop, +1));

    md.append("\n### Oversmoothing\n\nMean off-diagonal cosine similarity of the token vectors after each block "
        + "(lower: tokens stay more distinct), on the analysed test images.\n\n| depth |");
    kinds.forEach(k -> md.append(' ').append(k).append(" |"));
    md.append("\n|---|");
    kinds.forEach(k -> md.append("---|"));
    md.append('\n');
    TreeMap<Integer, Boolean> depths = new TreeMap<>();
    runs.forEach(r -> r.cosine().keySet().forEach(d -> depths.put(d, true)));
    for (int d : depths.keySet()) {
      md.append("| ").append(d).append(" |");
      for (String k : kinds) {
        md.append(' ').append(pm(runs.stream().filter(r -> r.kind().equals(k) && r.cosine().containsKey(d))
            .map(r -> r.cosine().get(d)).toList(), 3)).append(" |");
      }
      md.append('\n');
    }
    List<Double> depthAxis = new ArrayList<>();
    depths.keySet().forEach(d -> depthAxis.add((double) d));
    LinePlot os = new LinePlot("Token cosine similarity by depth", "block", "mean cosine similarity");
    for (String k : kinds) {
      os.add(series(k, runs.stream().filter(r -> r.kind().equals(k)).map(r -> {
        Map<Double, Double> m = new TreeMap<>();
        r.cosine().forEach((d, c) -> m.put((double) d, c));
        return m;
      }).toList()));
    }
    if (!runs.isEmpty()) {
      os.write(dir.resolve("oversmoothing.png"));
      md.append("\n![oversmoothing](oversmoothing.png)\n");
    }
    int last = depths.isEmpty() ? -1 : depths.lastKey();
    Stats.Paired cosLast = paired(runs, "twicing", r -> r.cosine().getOrDefault(last, Double.NaN));
    claims.add("Less oversmoothing: token similarity lower with twicing in deep layers (> 0.9 vs < 0.75)",
        "last block: " + describe(cosLast, 3, "cosine"), verdict(cosLast, -1));
  }

  private static void robustnessRows(StringBuilder md, List<String> kinds, List<VisionRun> runs, String label,
      Function<VisionRun, Map<Double, Double>> f, String unit) {
    TreeMap<Double, Boolean> keys = new TreeMap<>();
    runs.forEach(r -> f.apply(r).keySet().forEach(k -> keys.put(k, true)));
    for (double key : keys.keySet()) {
      md.append("| ").append(label).append(label.equals("clean") ? "" : num(key) + unit).append(" |");
      for (String k : kinds) {
        md.append(' ').append(pm(runs.stream().filter(r -> r.kind().equals(k) && f.apply(r).containsKey(key))
            .map(r -> f.apply(r).get(key)).toList(), 4)).append(" |");
      }
      for (String k : kinds) {
        if (!k.equals(BASELINE)) {
          Stats.Paired p = paired(runs, k, r -> f.apply(r).getOrDefault(key, Double.NaN));
          md.append(' ').append(diff(p, 4)).append(" |");
        }
      }
      md.append('\n');
    }
  }

  private static void figure(Path dir, String file, String title, String xLabel, String yLabel, List<String> kinds,
      List<VisionRun> runs, Function<VisionRun, Map<Double, Double>> f) throws IOException {
    if (runs.isEmpty()) {
      return;
    }
    LinePlot plot = new LinePlot(title, xLabel, yLabel);
    for (String k : kinds) {
      plot.add(series(k, runs.stream().filter(r -> r.kind().equals(k)).map(f).toList()));
    }
    plot.write(dir.resolve(file));
  }

  /** Mean ± std at each x over the given per-seed curves. */
  static LinePlot.Series series(String label, List<Map<Double, Double>> curves) {
    TreeMap<Double, List<Double>> at = new TreeMap<>();
    for (Map<Double, Double> c : curves) {
      c.forEach((x, y) -> at.computeIfAbsent(x, k -> new ArrayList<>()).add(y));
    }
    double[] x = new double[at.size()];
    double[] m = new double[at.size()];
    double[] s = new double[at.size()];
    int i = 0;
    for (Map.Entry<Double, List<Double>> e : at.entrySet()) {
      x[i] = e.getKey();
      m[i] = Stats.mean(e.getValue());
      s[i] = Stats.std(e.getValue());
      i++;
    }
    return new LinePlot.Series(label + " (n=" + curves.size() + ")", x, m, s);
  }

  private static Map<Long, Double> byVisionSeed(List<VisionRun> runs, String kind,
      ToDoubleFunction<VisionRun> f) {
    Map<Long, Double> m = new TreeMap<>();
    runs.stream().filter(r -> r.kind().equals(kind)).forEach(r -> m.put(r.seed(), f.applyAsDouble(r)));
    return m;
  }

  private static Stats.Paired paired(List<VisionRun> runs, String kind, ToDoubleFunction<VisionRun> f) {
    return pairSeeds(byVisionSeed(runs, BASELINE, f), byVisionSeed(runs, kind, f));
  }

  /** The paired comparison over the seeds both settings finished. */
  static Stats.Paired pairSeeds(Map<Long, Double> base, Map<Long, Double> other) {
    List<Double> a = new ArrayList<>();
    List<Double> b = new ArrayList<>();
    for (Map.Entry<Long, Double> e : base.entrySet()) {
      Double o = other.get(e.getKey());
      if (o != null && !o.isNaN() && !e.getValue().isNaN()) {
        a.add(e.getValue());
        b.add(o);
      }
    }
    return Stats.paired(a, b);
  }

  private static void pairedTable(StringBuilder md, List<String> settings,
      Function<String, Map<Long, Double>> values, int digits, String what) {
    md.append("\nPaired against softmax (").append(what).append("):\n\n");
    md.append("| setting | pairs | difference (mean ± std) | t | p | seeds where setting > softmax |\n"
        + "|---|---|---|---|---|---|\n");
    Map<Long, Double> base = values.apply(BASELINE);
    for (String s : settings) {
      if (s.equals(BASELINE)) {
        continue;
      }
      Stats.Paired p = pairSeeds(base, values.apply(s));
      md.append("| ").append(s).append(" − softmax | ").append(p.n()).append(" | ")
          .append(p.n() == 0 ? "–" : fmt(p.meanDiff(), digits) + (p.n() > 1 ? " ± " + fmt(p.stdDiff(), digits) : ""))
          .append(" | ").append(p.n() > 1 ? fmt(p.t(), 2) : "–").append(" | ")
          .append(p.n() > 1 ? fmt(p.p(), 3) : "–").append(" | ").append(p.wins()).append("/").append(p.n())
          .append(" |\n");
    }
  }

  // ---- language ----------------------------------------------------------------------------------------------

  private static void languageSections(StringBuilder md, StudyPlan plan, List<LanguageRun> runs, Claims claims) {
    StudyPlan.Language l = plan.language();
    md.append("\n## Language model: byte-level ").append(l.model()).append("\n\n");
    md.append(String.format(Locale.ROOT, "Corpus: Debian's `fortunes` package (`%s`), split by document (every "
        + "tenth document to test, the next to validation, the rest to training; no document is in two splits). "
        + "%d steps of %d windows, AdamW with the training command's defaults. Test bits per byte = test "
        + "cross-entropy / ln 2 over all non-overlapping windows of the test split; perplexity per byte.%n%n",
        l.corpus(), l.steps(), l.batch()));
    md.append("| setting | attention | seeds | test bits/byte | test perplexity | validation loss |\n"
        + "|---|---|---|---|---|---|\n");
    List<String> labels = new ArrayList<>();
    for (StudyPlan.Setting s : l.settings()) {
      labels.add(s.label());
      List<LanguageRun> rs = runs.stream().filter(r -> r.setting().equals(s.label())).toList();
      md.append("| ").append(s.label()).append(" | ").append(s.attention())
          .append(s.twicingLayers() == null ? "" : " (" + s.twicingLayers() + ")").append(" | ").append(rs.size())
          .append(" | ").append(pm(rs.stream().map(LanguageRun::bitsPerByte).toList(), 4)).append(" | ")
          .append(pm(rs.stream().map(LanguageRun::perplexity).toList(), 3)).append(" | ")
          .append(pm(rs.stream().map(LanguageRun::validLoss).toList(), 4)).append(" |\n");
    }
    pairedTable(md, labels, label -> byLanguageSeed(runs, label, LanguageRun::bitsPerByte), 4,
        "test bits per byte, lower is better");
    // The paper's LM setting twices in the last 2 layers; the independent small-scale reproduction in all layers.
    claim(claims, l, runs, "last:2", "Perplexity, twicing in the last 2 layers (the paper's LM setting): slightly "
        + "lower (WikiText-103 43.03 → 42.92)");
    claim(claims, l, runs, "all", "Perplexity, twicing in all layers: lower (small-scale reproduction, "
        + "WikiText-103 subset: 72.2 → 69.6)");
    md.append("\n### Generation samples (through decode.onnx, temperature 0.8, seed = the run's)\n\n");
    for (String label : labels) {
      runs.stream().filter(r -> r.setting().equals(label) && r.sample() != null).findFirst().ifPresent(r -> {
        md.append("**").append(label).append("** (seed ").append(r.seed()).append("):\n\n```\n")
            .append(r.prompt()).append(r.sample().replace("```", "'''")).append("\n```\n\n");
      });
    }
  }

  private static void claim(Claims claims, StudyPlan.Language l, List<LanguageRun> runs, String layers,
      String claim) {
    l.settings().stream().filter(s -> layers.equals(s.twicingLayers())).findFirst().ifPresent(s -> {
      Stats.Paired ppl = pairSeeds(byLanguageSeed(runs, BASELINE, LanguageRun::perplexity),
          byLanguageSeed(runs, s.label(), LanguageRun::perplexity));
      claims.add(claim, s.label() + ": " + describe(ppl, 3, "perplexity"), verdict(ppl, -1));
    });
  }

  private static Map<Long, Double> byLanguageSeed(List<LanguageRun> runs, String setting,
      ToDoubleFunction<LanguageRun> f) {
    Map<Long, Double> m = new TreeMap<>();
    runs.stream().filter(r -> r.setting().equals(setting)).forEach(r -> m.put(r.seed(), f.applyAsDouble(r)));
    return m;
  }

  // ---- cost --------------------------------------------------------------------------------------------------

  private static void flops(StringBuilder md, Claims claims) {
    long soft = macs("softmax");
    long twice = macs("twicing");
    double extra = 100.0 * (twice - soft) / soft;
    md.append(String.format(Locale.ROOT, "%n## Cost%n%nDeiT-Tiny (vit-tiny, 224², patch 16) inference graph, "
        + "multiply-adds per image counted on the emitted graph: softmax %.4f G, twicing in all 12 layers %.4f G "
        + "(+%.2f%%).%n", soft / 1e9, twice / 1e9, extra));
    claims.add("Cost: twicing in all layers of DeiT-Tiny adds 7.1% FLOPs", String.format(Locale.ROOT, "+%.2f%% "
        + "multiply-adds", extra), Math.abs(extra - 7.1) < 0.05 ? "agrees" : "disagrees");
  }

  private static long macs(String attention) {
    TaskModel m = Zoo.build("vit-tiny", PresetOptions.defaults().withAttention(attention));
    return FlopCounter.macs(InferenceGraph.build(m, StateDict.initialize(m, 0)), Map.of("batch", 1L));
  }

  // ---- claims and formatting ---------------------------------------------------------------------------------

  /** The table of the paper's claims next to ours. */
  private static final class Claims {
    private final Map<String, String[]> rows = new LinkedHashMap<>();

    void add(String claim, String measured, String verdict) {
      rows.put(claim, new String[] {measured, verdict});
    }

    void write(StringBuilder md) {
      md.append("\n## The paper's claims next to ours\n\n| claim (paper) | measured here | verdict |\n|---|---|---|\n");
      rows.forEach((k, v) -> md.append("| ").append(k).append(" | ").append(v[0]).append(" | ").append(v[1])
          .append(" |\n"));
      md.append("\nVerdicts: *agrees* or *disagrees* when the paired difference over seeds has the paper's (or the "
          + "opposite) sign at p < 0.05; *same direction, not significant* or *opposite direction, not significant* "
          + "otherwise; a disagreement is a result, not a failure. CPU scale: a 28×28 Fashion-MNIST ViT trained for "
          + "a few epochs and a 4-layer byte-level LM, not ImageNet or WikiText-103.\n");
    }
  }

  /** The verdict for a paired difference whose paper-predicted sign is {@code sign} (+1: higher, −1: lower). */
  static String verdict(Stats.Paired p, int sign) {
    if (p.n() == 0) {
      return "not measured yet";
    }
    double d = p.meanDiff() * sign;
    if (p.n() < 2) {
      return (d > 0 ? "same direction" : "opposite direction") + ", one seed: not testable";
    }
    boolean sig = p.p() < 0.05;
    if (d > 0) {
      return sig ? "agrees" : "same direction, not significant";
    }
    return sig ? "disagrees" : "opposite direction, not significant";
  }

  private static String describe(Stats.Paired p, int digits, String what) {
    if (p.n() == 0) {
      return "–";
    }
    return "twicing − softmax " + what + " " + fmt(p.meanDiff(), digits)
        + (p.n() > 1 ? " ± " + fmt(p.stdDiff(), digits) + " (p = " + fmt(p.p(), 3) + ")" : "") + ", "
        + p.wins() + "/" + p.n() + " seeds higher";
  }

  private static String diff(Stats.Paired p, int digits) {
    if (p.n() == 0) {
      return "–";
    }
    return fmt(p.meanDiff(), digits) + (p.n() > 1 ? " (" + fmt(p.p(), 2) + ")" : "");
  }

  private static String pm(List<Double> xs, int digits) {
    List<Double> ok = xs.stream().filter(x -> !x.isNaN()).toList();
    if (ok.isEmpty()) {
      return "–";
    }
    return ok.size() == 1 ? fmt(ok.get(0), digits) : fmt(Stats.mean(ok), digits) + " ± " + fmt(Stats.std(ok), digits);
  }

  private static String perSeed(List<Long> seeds, List<Double> xs, int digits) {
    List<String> parts = new ArrayList<>();
    for (int i = 0; i < xs.size(); i++) {
      parts.add("s" + seeds.get(i) + " " + fmt(xs.get(i), digits));
    }
    return parts.isEmpty() ? "–" : String.join(", ", parts);
  }

  private static String fmt(double x, int digits) {
    return Double.isNaN(x) ? "–" : String.format(Locale.ROOT, "%." + digits + "f", x);
  }

  private static String num(double x) {
    return x == Math.rint(x) ? Long.toString((long) x) : String.format(Locale.ROOT, "%.3g", x);
  }
}

package org.twicing.models.study;

import com.google.gson.GsonBuilder;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.twicing.dsl.io.AtomicFile;
import org.twicing.dsl.nn.Gpt;
import org.twicing.models.cli.TwicingCli;
import org.twicing.models.data.TextData;
import org.twicing.models.training.CachedTextGenerator;
import org.twicing.models.training.Evaluation;
import org.twicing.models.training.TrainedRun;
import org.twicing.runtime.SessionOptionsSpec;
import org.twicing.runtime.train.Checkpoint;
import org.twicing.runtime.train.MetricsLog;

/**
 * Carries out a {@link StudyPlan} in a study directory, resumably: a run whose checkpoint reached its planned
 * steps is skipped, an interrupted one is resumed with {@code train --resume}, one that died before its first
 * checkpoint is started again; an analysis already written for the run's final checkpoint is not repeated. After
 * each run the results are written again, so RESULTS.md always shows what has finished.
 */
public final class StudyRunner {
  /** The plan as the study directory records it. */
  public static final String PLAN_FILE = "plan.json";
  /** The language runs' held-out evaluation and samples, in each language run's directory. */
  public static final String LM_RESULT_FILE = "lm-test.json";

  private final StudyPlan plan;
  private final Path dir;
  private final PrintWriter out;
  private final int threads;

  /** A runner of {@code plan} in {@code dir}, reporting to {@code out}, with {@code threads} intra-op threads. */
  public StudyRunner(StudyPlan plan, Path dir, PrintWriter out, int threads) {
    this.plan = plan;
    this.dir = dir;
    this.out = out;
    this.threads = threads;
  }

  /** The corpus directory the language runs train on. */
  public Path corpusDirectory() {
    return dir.resolve("lm-corpus");
  }

  /**
   * Makes every run of the plan not yet finished, then writes the results; {@code maxRuns} (0: all) stops after
   * that many runs were trained or analysed in this call, so a study can advance in slices.
   */
  public void run(int maxRuns) throws IOException {
    Files.createDirectories(dir.resolve("runs"));
    recordPlan();
    if (plan.language() != null) {
      if (!TextData.isSplitDirectory(corpusDirectory())) {
        LmCorpus.Split s = LmCorpus.prepare(Path.of(plan.language().corpus()), corpusDirectory());
        out.println("study: language corpus " + plan.language().corpus() + ": " + s.describe());
      }
    }
    List<StudyRun> runs = plan.runs();
    int worked = 0;
    for (int i = 0; i < runs.size(); i++) {
      StudyRun r = runs.get(i);
      String tag = String.format(Locale.ROOT, "[%d/%d] %s", i + 1, runs.size(), r.name());
      if (resultsOnly(r)) {
        out.println("study: " + tag + ": finished earlier (results kept without the checkpoint), skipped");
        continue;
      }
      boolean trained = ensureTrained(r, tag);
      boolean analysed = ensureAnalysed(r, tag);
      if (trained || analysed) {
        worked++;
        StudyResults.write(plan, dir, out);
      } else {
        out.println("study: " + tag + ": finished earlier, skipped");
      }
      out.flush();
      if (maxRuns > 0 && worked >= maxRuns) {
        out.println("study: stopping after " + worked + " run(s) as asked (--max-runs)");
        break;
      }
    }
    StudyResults.write(plan, dir, out);
  }

  /** Writes plan.json, or checks that the directory's plan is this one (a study is resumed with its own plan). */
  private void recordPlan() throws IOException {
    Path file = dir.resolve(PLAN_FILE);
    String json = plan.toJson();
    if (Files.exists(file)) {
      String old = Files.readString(file, StandardCharsets.UTF_8);
      if (!old.equals(json)) {
        throw new IOException(file + ": this study directory was made with a different plan; resume it with that"
            + " plan (--plan " + file + ") or choose a new --out");
      }
      return;
    }
    AtomicFile.write(file, json.getBytes(StandardCharsets.UTF_8));
  }

  /**
   * Whether only the results of a finished run are kept (its analysis and metrics, as committed under results/,
   * without the large checkpoint): such a run counts as finished and is not made again.
   */
  private boolean resultsOnly(StudyRun r) {
    Path run = r.directory(dir);
    Path result = run.resolve(r.kind() == StudyRun.Kind.VISION ? "analysis.json" : LM_RESULT_FILE);
    return !Files.exists(run.resolve(Checkpoint.FILE_NAME)) && Files.isRegularFile(result)
        && Files.isRegularFile(run.resolve(MetricsLog.FILE_NAME));
  }

  /** Whether training ran in this call (false: the run had finished before). */
  private boolean ensureTrained(StudyRun r, String tag) throws IOException {
    Path run = r.directory(dir);
    Path ckpt = run.resolve(Checkpoint.FILE_NAME);
    List<String> args = new ArrayList<>();
    if (Files.isRegularFile(ckpt)) {
      Checkpoint c = Checkpoint.read(ckpt);
      if (c.step() >= c.totalSteps()) {
        return false;
      }
      out.println("study: " + tag + ": resuming at step " + c.step() + " of " + c.totalSteps());
      args.addAll(List.of("train", "--resume", run.toString()));
    } else {
      if (Files.exists(run)) {
        // Died before its first checkpoint: nothing in it can be resumed.
        out.println("study: " + tag + ": no checkpoint in " + run + "; starting it again");
        deleteTree(run);
      }
      out.println("study: " + tag + ": training (" + String.join(" ", r.trainArgs()) + ")");
      args.add("train");
      args.addAll(r.trainArgs());
      if (r.kind() == StudyRun.Kind.LANGUAGE) {
        args.addAll(List.of("--data", TextData.SCHEME + corpusDirectory()));
      }
      args.addAll(List.of("--out", run.toString()));
    }
    args.addAll(List.of("--threads", Integer.toString(threads)));
    out.flush();
    int code = TwicingCli.run(args.toArray(String[]::new));
    if (code != 0) {
      throw new IOException("study: " + tag + ": 'twicing " + String.join(" ", args) + "' failed with exit code "
          + code);
    }
    return true;
  }

  /** Whether an analysis ran in this call. */
  private boolean ensureAnalysed(StudyRun r, String tag) throws IOException {
    Path run = r.directory(dir);
    Path ckpt = run.resolve(Checkpoint.FILE_NAME);
    Path result = run.resolve(r.kind() == StudyRun.Kind.VISION ? "analysis.json" : LM_RESULT_FILE);
    if (Files.isRegularFile(result)
        && Files.getLastModifiedTime(result).compareTo(Files.getLastModifiedTime(ckpt)) >= 0) {
      return false;
    }
    out.println("study: " + tag + ": analysing");
    out.flush();
    if (r.kind() == StudyRun.Kind.VISION) {
      StudyPlan.Robustness rb = plan.vision().robustness();
      List<String> a = new ArrayList<>(List.of("analyze", "--run", run.toString(), "--examples",
          Integer.toString(rb.examples()), "--pixel-space", "--oversmoothing", "--pgd-steps",
          Integer.toString(rb.pgdSteps()), "--threads", Integer.toString(threads), "--seed", Long.toString(r.seed())));
      if (!rb.noise().isEmpty()) {
        a.addAll(List.of("--noise", join(rb.noise(), 1)));
      }
      if (!rb.epsilons255().isEmpty()) {
        a.addAll(List.of("--attack", "fgsm,pgd", "--epsilon", join(rb.epsilons255(), 255)));
      }
      if (plan.vision().dataDir() != null) {
        a.addAll(List.of("--data-dir", plan.vision().dataDir()));
      }
      int code = TwicingCli.run(a.toArray(String[]::new));
      if (code != 0) {
        throw new IOException("study: " + tag + ": 'twicing " + String.join(" ", a) + "' failed with exit code "
            + code);
      }
    } else {
      AtomicFile.write(result, languageResult(r, run).getBytes(StandardCharsets.UTF_8));
    }
    return true;
  }

  /** Test loss, bits per byte and perplexity on the held-out split, and a generation sample through decode.onnx. */
  private String languageResult(StudyRun r, Path run) throws IOException {
    SessionOptionsSpec options = SessionOptionsSpec.builder().provider("cpu").intraOpThreads(threads).build();
    Map<String, Object> m = new LinkedHashMap<>();
    try (TrainedRun t = TrainedRun.open(run, options)) {
      if (!(t.model() instanceof Gpt gpt)) {
        throw new IOException(run + ": a language run of the study is not a GPT model");
      }
      int context = Integer.parseInt(gpt.config().get("context"));
      Map<String, Double> test = Evaluation.languageModel(TextData.heldOut(corpusDirectory()), context, 32, 0, 0)
          .evaluate(t.runner(), true);
      double loss = test.get("loss");
      m.put("run", r.name());
      m.put("setting", r.setting());
      m.put("seed", r.seed());
      m.put("step", t.step());
      m.put("test_loss", loss);
      m.put("test_bits_per_byte", loss / Math.log(2));
      m.put("test_perplexity", Math.exp(loss));
      m.put("test_tokens", test.get("tokens"));
      StudyPlan.Language l = plan.language();
      if (l.sampleBytes() > 0) {
        try (CachedTextGenerator g = new CachedTextGenerator(gpt, t.weights(), options)) {
          byte[] prompt = l.prompt().getBytes(StandardCharsets.UTF_8);
          byte[] sample = g.generate(prompt, l.sampleBytes(), 0.8, 0, r.seed());
          m.put("prompt", l.prompt());
          m.put("sample", new String(sample, StandardCharsets.UTF_8));
        }
      }
    }
    return new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues().create().toJson(m) + "\n";
  }

  private static String join(List<Double> xs, double divisor) {
    return xs.stream().map(x -> Double.toString(x / divisor)).collect(Collectors.joining(","));
  }

  private static void deleteTree(Path p) throws IOException {
    try (Stream<Path> walk = Files.walk(p)) {
      for (Path q : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(q);
      }
    }
  }
}

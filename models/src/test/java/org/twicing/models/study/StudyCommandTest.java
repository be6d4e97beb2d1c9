package org.twicing.models.study;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.models.cli.TwicingCli;
import org.twicing.models.data.FashionMnist;
import org.twicing.models.data.FashionMnistSubset;
import org.twicing.runtime.train.Checkpoint;
import org.twicing.runtime.train.MetricsLog;

/**
 * {@code twicing study} end to end on a tiny plan (two vision and two language runs of two steps): results written
 * from the runs' own files, an interrupted run resumed, finished runs skipped, another plan refused.
 */
class StudyCommandTest {
  @TempDir
  static Path tmp;

  static Path planFile;

  static TwicingCli.Captured run(String... args) {
    return TwicingCli.capture(args);
  }

  @BeforeAll
  static void data() throws IOException {
    FashionMnist bundled = FashionMnist.loadBundledSubset();
    Path fmnist = tmp.resolve("fmnist");
    Files.createDirectories(fmnist);
    FashionMnistSubset.writeEvenlySpaced(bundled, 64, 32, fmnist);
    Path corpus = tmp.resolve("fortunes");
    Files.createDirectories(corpus);
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 300; i++) {
      sb.append(i == 0 ? "" : "%\n").append("Fortune number ").append(i).append(": twicing smooths the residual.\n");
    }
    Files.writeString(corpus.resolve("sayings"), sb);
    planFile = tmp.resolve("plan.json");
    Files.writeString(planFile, String.format(Locale.ROOT, """
        {"name": "tiny",
         "vision": {"model": "vit-fmnist", "attention": ["softmax", "twicing"], "seeds": [3], "steps": 2, "batch": 8,
                    "dataDir": "%s",
                    "robustness": {"examples": 16, "epsilons255": [4], "noise": [0.1], "pgdSteps": 1}},
         "language": {"model": "lm-tiny", "corpus": "%s", "seeds": [3], "steps": 2, "batch": 2,
                      "settings": [{"label": "softmax", "attention": "softmax"},
                                   {"label": "twicing-last2", "attention": "twicing", "twicingLayers": "last:2"}],
                      "prompt": "Fortune", "sampleBytes": 8}}
        """, fmnist, corpus));
  }


  @Test
  void runsResumesSkipsAndReports() throws IOException {
    Path out = tmp.resolve("study");
    StudyPlan plan = StudyPlan.read(planFile);
    List<StudyRun> runs = plan.runs();
    assertEquals(List.of("lm-softmax-s3", "lm-twicing-last2-s3", "vision-softmax-s3", "vision-twicing-s3"),
        runs.stream().map(StudyRun::name).toList());

    TwicingCli.Captured first = run("study", "--plan", planFile.toString(), "--out", out.toString(), "--max-runs",
        "1", "--threads", "1");
    assertEquals(0, first.code(), first.out() + first.err());
    assertTrue(Files.readString(out.resolve(StudyResults.FILE_NAME)).contains("Finished runs: 1 of 4"));

    // An interrupted vision run (stopped after step 1 of 2) is resumed, not restarted.
    Path interrupted = runs.get(2).directory(out);
    List<String> train = new ArrayList<>(List.of("train"));
    train.addAll(runs.get(2).trainArgs());
    train.addAll(List.of("--out", interrupted.toString(), "--stop-at", "1", "--threads", "1"));
    TwicingCli.Captured stopped = run(train.toArray(String[]::new));
    assertEquals(0, stopped.code(), stopped.out() + stopped.err());
    assertEquals(1, Checkpoint.read(interrupted.resolve(Checkpoint.FILE_NAME)).step());
    FileTime lmDone = Files.getLastModifiedTime(runs.get(0).directory(out).resolve(Checkpoint.FILE_NAME));

    // Resuming without --plan takes the plan recorded in the study directory.
    TwicingCli.Captured rest = run("study", "--out", out.toString(), "--threads", "1");
    assertEquals(0, rest.code(), rest.out() + rest.err());
    assertTrue(rest.out().contains("[1/4] lm-softmax-s3: finished earlier, skipped"), rest.out());
    assertTrue(rest.out().contains("[3/4] vision-softmax-s3: resuming at step 1 of 2"), rest.out());
    assertEquals(lmDone, Files.getLastModifiedTime(runs.get(0).directory(out).resolve(Checkpoint.FILE_NAME)));
    assertEquals(2, Checkpoint.read(interrupted.resolve(Checkpoint.FILE_NAME)).step());

    String md = Files.readString(out.resolve(StudyResults.FILE_NAME));
    assertTrue(md.contains("Finished runs: 4 of 4."), md);
    // The table reports the accuracy the run itself logged at its final evaluation.
    for (StudyRun r : runs.subList(2, 4)) {
      List<Map<String, Double>> recs = MetricsLog.read(r.directory(out).resolve(MetricsLog.FILE_NAME));
      double acc = recs.get(recs.size() - 1).get("eval_accuracy");
      assertTrue(md.contains(String.format(Locale.ROOT, "| %s | 1 | %.4f | s3 %.4f |", r.setting(), acc, acc)), md);
    }
    assertTrue(md.contains("| FGSM ε = 4/255 |") && md.contains("| PGD ε = 4/255 |"), md);
    assertTrue(md.contains("twicing in all 12 layers") && md.contains("(+7.1"), md);
    assertTrue(md.contains("**twicing-last2** (seed 3):"), md);
    for (String png : List.of("oversmoothing.png", "robustness-pgd.png", "robustness-fgsm.png")) {
      byte[] head = Arrays.copyOf(Files.readAllBytes(out.resolve(png)), 4);
      assertEquals("\u0089PNG", new String(head, StandardCharsets.ISO_8859_1), png);
    }

    TwicingCli.Captured again = run("study", "--out", out.toString(), "--threads", "1");
    assertEquals(0, again.code(), again.out() + again.err());
    assertEquals(4, again.out().lines().filter(l -> l.endsWith("finished earlier, skipped")).count(), again.out());

    // Results kept without checkpoints (as committed under results/) still count as finished runs.
    for (StudyRun r : runs) {
      Files.delete(r.directory(out).resolve(Checkpoint.FILE_NAME));
    }
    TwicingCli.Captured kept = run("study", "--out", out.toString(), "--threads", "1");
    assertEquals(0, kept.code(), kept.out() + kept.err());
    assertEquals(4, kept.out().lines().filter(l -> l.contains("results kept without the checkpoint")).count(),
        kept.out());

    Files.delete(out.resolve(StudyResults.FILE_NAME));
    TwicingCli.Captured report = run("study", "--out", out.toString(), "--report-only");
    assertEquals(0, report.code(), report.out() + report.err());
    assertEquals(md, Files.readString(out.resolve(StudyResults.FILE_NAME)), "the same report from the same runs");
    assertTrue(!report.out().contains("training"), report.out());

    Path other = tmp.resolve("other.json");
    Files.writeString(other, Files.readString(planFile).replace("\"steps\": 2, \"batch\": 8", "\"steps\": 3, "
        + "\"batch\": 8"));
    TwicingCli.Captured refused = run("study", "--plan", other.toString(), "--out", out.toString());
    assertEquals(1, refused.code(), refused.out() + refused.err());
    assertTrue(refused.err().contains("different plan") && refused.err().contains("plan.json"), refused.err());
  }

  @Test
  void badPlanNamesTheField() throws IOException {
    Path bad = tmp.resolve("bad.json");
    Files.writeString(bad, "{\"name\": \"x\", \"language\": {\"model\": \"lm-tiny\", \"corpus\": \"c\", "
        + "\"seeds\": [0], \"steps\": 0, \"batch\": 2, \"settings\": [{\"label\": \"a b\", \"attention\": \"softmax\"}]}}");
    TwicingCli.Captured r = run("study", "--plan", bad.toString(), "--out",
        tmp.resolve("never").toString());
    assertEquals(1, r.code(), r.out() + r.err());
    assertTrue(r.err().contains("bad.json") && r.err().contains("language.steps must be positive")
        && r.err().contains("label 'a b'"), r.err());
    assertTrue(!Files.exists(tmp.resolve("never")), "nothing written for a bad plan");
  }

  @Test
  void defaultPlanIsTheIssuePlan() {
    StudyPlan p = StudyPlan.defaults();
    assertTrue(p.problems().isEmpty(), p.problems().toString());
    assertEquals(9, p.runs().stream().filter(r -> r.kind() == StudyRun.Kind.VISION).count());
    assertEquals(9, p.runs().stream().filter(r -> r.kind() == StudyRun.Kind.LANGUAGE).count());
    assertEquals(3, p.vision().epochs());
    TwicingCli.Captured printed = run("study", "--print-plan");
    assertEquals(0, printed.code());
    assertTrue(printed.out().contains("\"twicing-learned\""), printed.out());
  }
}

package org.twicing.models.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.models.cli.TwicingCli;
import org.twicing.models.data.FashionMnist;
import org.twicing.models.data.FashionMnistSubset;
import org.twicing.models.data.LabeledImages;
import org.twicing.models.training.RunSettings;
import org.twicing.runtime.SessionOptionsSpec;
import org.twicing.runtime.train.Checkpoint;
import picocli.CommandLine;

/** {@code twicing analyze} on a tiny trained ViT run, plus the attack and similarity helpers in isolation. */
class AnalyzeCommandTest {
  @TempDir
  static Path tmp;

  static Path fmnist;
  static Path vitRun;

  record Result(int code, String out, String err) { }

  static Result run(String... args) {
    CommandLine cl = TwicingCli.commandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    int code = cl.execute(args);
    return new Result(code, out.toString(), err.toString());
  }

  @BeforeAll
  static void trainTinyRun() throws IOException {
    FashionMnist bundled = FashionMnist.loadBundledSubset();
    fmnist = tmp.resolve("fmnist");
    Files.createDirectories(fmnist);
    FashionMnistSubset.writeEvenlySpaced(bundled, 1024, 100, fmnist);
    vitRun = tmp.resolve("vit");
    long t0 = System.nanoTime();
    Result r = run("train", "--data-dir", fmnist.toString(), "--steps", "30", "--batch", "32", "--lr", "2e-3",
        "--eval-every", "0", "--threads", "4", "--out", vitRun.toString());
    assertEquals(0, r.code(), r.out() + r.err());
    System.out.println("tiny run trained in " + (System.nanoTime() - t0) / 1e9 + " s\n" + r.out());
  }


  @Test
  void analyzesTrainedRun() throws IOException {
    long t0 = System.nanoTime();
    Result r = run("analyze", "--run", vitRun.toString(), "--examples", "64", "--batch", "64", "--noise", "0,0.5",
        "--attack", "fgsm,pgd", "--epsilon", "0,0.3", "--pgd-steps", "3", "--oversmoothing", "--threads", "4");
    System.out.println("analyze took " + (System.nanoTime() - t0) / 1e9 + " s\n" + r.out());
    assertEquals(0, r.code(), r.out() + r.err());
    assertTrue(r.out().contains("clean accuracy"), r.out());
    assertTrue(r.out().contains("oversmoothing"), r.out());

    @SuppressWarnings("unchecked")
    Map<String, Object> json = (Map<String, Object>) new MiniJson(
        Files.readString(vitRun.resolve(AnalysisReport.FILE_NAME))).parse();
    assertEquals(64.0, json.get("examples"));
    assertEquals("vit-fmnist", json.get("preset"));
    double clean = (Double) json.get("clean_accuracy");
    assertTrue(clean > 0.25, "a trained run should beat chance clearly: " + clean);
    List<?> noise = (List<?>) json.get("noise");
    assertEquals(2, noise.size());
    assertEquals(clean, field(noise.get(0), "accuracy"), "noise 0 equals clean");
    Map<String, Double> attacks = new LinkedHashMap<>();
    for (Object a : (List<?>) json.get("attacks")) {
      attacks.put(((Map<?, ?>) a).get("kind") + "@" + field(a, "epsilon"), field(a, "accuracy"));
    }
    assertEquals(clean, attacks.get("fgsm@0.0"), "FGSM at eps 0 equals clean");
    assertEquals(clean, attacks.get("pgd@0.0"), "PGD at eps 0 equals clean");
    assertTrue(attacks.get("fgsm@0.3") < clean, attacks + " vs clean " + clean);
    assertTrue(attacks.get("pgd@0.3") <= attacks.get("fgsm@0.3") + 0.035, attacks.toString());
    List<?> sims = (List<?>) json.get("oversmoothing");
    assertEquals(6, sims.size());
    for (int i = 0; i < sims.size(); i++) {
      assertEquals(i + 1.0, field(sims.get(i), "depth"));
      assertEquals("blocks." + i, ((Map<?, ?>) sims.get(i)).get("block"));
      double c = field(sims.get(i), "cosine");
      assertTrue(c >= -1 && c <= 1, "cosine " + c);
    }
    try (Stream<Path> files = Files.list(vitRun)) {
      assertTrue(files.noneMatch(p -> p.getFileName().toString().endsWith(".tmp")));
    }
  }

  private static double field(Object o, String key) {
    return (Double) ((Map<?, ?>) o).get(key);
  }

  @Test
  void pgdIterateStaysInTheEpsBall() throws IOException {
    Checkpoint c = Checkpoint.read(vitRun.resolve(Checkpoint.FILE_NAME));
    TaskModel model = RunSettings.fromMetadata(c.metadata(), "test").model();
    StateDict weights = c.parameters(model);
    LabeledImages test = FashionMnist.load(fmnist).test();
    float[] x = new float[4 * test.pixelsPerImage()];
    long[] labels = new long[4];
    for (int i = 0; i < 4; i++) {
      test.copyNormalizedImage(i, x, i * test.pixelsPerImage());
      labels[i] = test.label(i);
    }
    try (AnalysisSession s = AnalysisSession.open(model, weights, SessionOptionsSpec.builder().build())) {
      float[] adv = Analysis.pgd(s, x, labels, new long[] {1, 28, 28}, 0.05, 0.03, 4);
      double d = AttackMath.maxAbsDiff(adv, x);
      assertTrue(d <= 0.05 && d > 0.04, "max |adv - x| = " + d);
    }
  }

  @Test
  void projectionClampsIntoTheBall() {
    Random rng = new Random(1);
    float[] x = new float[500];
    float[] g = new float[500];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) (rng.nextGaussian() * 3);
      g[i] = (float) rng.nextGaussian();
    }
    for (double eps : new double[] {0, 1e-3, 0.03, 0.7}) {
      float[] adv = x.clone();
      for (int k = 0; k < 5; k++) {
        adv = AttackMath.project(AttackMath.signStep(adv, g, 0.4), x, eps);
        assertTrue(AttackMath.maxAbsDiff(adv, x) <= eps, "eps " + eps);
      }
    }
    float[] inside = {0.5f, -0.2f};
    assertEquals(0.5f, AttackMath.project(inside.clone(), new float[] {0.45f, -0.2f}, 0.1)[0]);
    assertEquals(-0.1f, AttackMath.project(new float[] {-1f}, new float[] {0f}, 0.1)[0], 1e-7);
  }

  @Test
  void cosineMatchesPlainPairwiseComputation() {
    // Two images, three tokens, dimension 2, by hand.
    float[] data = {1, 0, 0, 1, 1, 1, /* image 2 */ 2, 0, -3, 0, 0, 0};
    double img1 = (0 + Math.sqrt(0.5) + Math.sqrt(0.5)) * 2 / 6;
    double img2 = (-1 + 0 + 0) * 2 / 6.0;
    assertEquals((img1 + img2) / 2, TokenSimilarity.meanOffDiagonalCosine(data, 2, 3, 2), 1e-9);
    Random rng = new Random(7);
    int b = 3;
    int t = 5;
    int d = 4;
    float[] r = new float[b * t * d];
    for (int i = 0; i < r.length; i++) {
      r[i] = (float) rng.nextGaussian();
    }
    double expect = 0;
    for (int im = 0; im < b; im++) {
      double s = 0;
      for (int i = 0; i < t; i++) {
        for (int j = 0; j < t; j++) {
          if (i != j) {
            double dot = 0;
            double ni = 0;
            double nj = 0;
            for (int k = 0; k < d; k++) {
              double u = r[(im * t + i) * d + k];
              double v = r[(im * t + j) * d + k];
              dot += u * v;
              ni += u * u;
              nj += v * v;
            }
            s += dot / Math.sqrt(ni * nj);
          }
        }
      }
      expect += s / (t * (t - 1));
    }
    double got = TokenSimilarity.meanOffDiagonalCosine(r, b, t, d);
    assertEquals(expect / b, got, 1e-9);
    assertTrue(got >= -1 && got <= 1);
    float[] same = {1, 2, 1, 2, 1, 2};
    assertEquals(1.0, TokenSimilarity.meanOffDiagonalCosine(same, 1, 3, 2), 1e-9);
  }

  @Test
  void languageModelAndMissingRunsGiveOneLineErrors() throws IOException {
    Path text = tmp.resolve("corpus.txt");
    Files.writeString(text, "twicing attention smooths the residual once more.\n".repeat(40));
    Path lm = tmp.resolve("lm");
    Result t = run("train", "--data", "text:" + text, "--steps", "1", "--batch", "2", "--eval-every", "0",
        "--out", lm.toString());
    assertEquals(0, t.code(), t.out() + t.err());
    Result r = run("analyze", "--run", lm.toString());
    assertEquals(1, r.code(), r.out() + r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
    assertTrue(r.err().contains("analyze supports image (ViT) runs"), r.err());
    Path missing = tmp.resolve("no-such-run");
    Result m = run("analyze", "--run", missing.toString());
    assertEquals(1, m.code(), m.err());
    assertEquals(1, m.err().strip().lines().count(), m.err());
    assertTrue(m.err().strip().startsWith("twicing: error: ") && m.err().contains(missing.toString()), m.err());
  }

  /** A minimal JSON reader (objects, arrays, strings, numbers, true/false/null) for checking analysis.json. */
  static final class MiniJson {
    private final String s;
    private int i;

    MiniJson(String s) {
      this.s = s;
    }

    Object parse() {
      Object v = value();
      ws();
      assertEquals(s.length(), i, "trailing characters");
      return v;
    }

    private void ws() {
      while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
        i++;
      }
    }

    private Object value() {
      ws();
      char c = s.charAt(i);
      if (c == '{') {
        Map<String, Object> m = new LinkedHashMap<>();
        i++;
        ws();
        if (s.charAt(i) == '}') {
          i++;
          return m;
        }
        while (true) {
          ws();
          String k = string();
          ws();
          expect(':');
          m.put(k, value());
          ws();
          if (s.charAt(i++) == '}') {
            return m;
          }
          assertEquals(',', s.charAt(i - 1));
        }
      }
      if (c == '[') {
        List<Object> l = new ArrayList<>();
        i++;
        ws();
        if (s.charAt(i) == ']') {
          i++;
          return l;
        }
        while (true) {
          l.add(value());
          ws();
          if (s.charAt(i++) == ']') {
            return l;
          }
          assertEquals(',', s.charAt(i - 1));
        }
      }
      if (c == '"') {
        return string();
      }
      for (String lit : List.of("true", "false", "null")) {
        if (s.startsWith(lit, i)) {
          i += lit.length();
          return lit.equals("null") ? null : Boolean.valueOf(lit);
        }
      }
      int start = i;
      while (i < s.length() && "+-.eE0123456789".indexOf(s.charAt(i)) >= 0) {
        i++;
      }
      return Double.parseDouble(s.substring(start, i));
    }

    private void expect(char c) {
      assertEquals(c, s.charAt(i++));
    }

    private String string() {
      expect('"');
      StringBuilder sb = new StringBuilder();
      while (s.charAt(i) != '"') {
        char c = s.charAt(i++);
        if (c == '\\') {
          char e = s.charAt(i++);
          switch (e) {
            case 'n' -> sb.append('\n');
            case 't' -> sb.append('\t');
            case 'r' -> sb.append('\r');
            case 'u' -> {
              sb.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
              i += 4;
            }
            default -> sb.append(e);
          }
        } else {
          sb.append(c);
        }
      }
      i++;
      return sb.toString();
    }
  }
}

package org.twicing.models.analysis;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.twicing.models.data.LabeledImages;

/** Runs clean, noisy, FGSM/PGD and oversmoothing measurements of an {@link AnalysisSession} on test images. */
public final class Analysis {
  private Analysis() { }

  /**
   * What to measure: the first {@code examples} images in batches of {@code batch}; noise standard deviations;
   * attacks (fgsm, pgd) at each epsilon; PGD steps and step size ({@code pgdAlpha <= 0}: epsilon / 4). With
   * {@code pixelSpace}, noise, epsilons and the PGD step are in [0, 1] pixel units and every perturbed image is
   * clipped to the valid pixel range, as the paper's attacks are; otherwise they are in normalised units, unclipped.
   */
  public record Config(int examples, int batch, double[] noise, List<String> attacks, double[] epsilons,
      int pgdSteps, double pgdAlpha, boolean oversmoothing, long seed, boolean pixelSpace) {
    /** Settings in normalised pixel units without clipping (the default of {@code twicing analyze}). */
    public Config(int examples, int batch, double[] noise, List<String> attacks, double[] epsilons, int pgdSteps,
        double pgdAlpha, boolean oversmoothing, long seed) {
      this(examples, batch, noise, attacks, epsilons, pgdSteps, pgdAlpha, oversmoothing, seed, false);
    }

    /** Checks the settings. */
    public Config {
      if (examples <= 0 || batch <= 0) {
        throw new IllegalArgumentException("--examples and --batch must be positive");
      }
      for (String a : attacks) {
        if (!a.equals("fgsm") && !a.equals("pgd")) {
          throw new IllegalArgumentException("unknown attack '" + a + "': expected fgsm or pgd");
        }
      }
      for (double e : epsilons) {
        if (!(e >= 0)) {
          throw new IllegalArgumentException("--epsilon values must be >= 0, got " + e);
        }
      }
      for (double s : noise) {
        if (!(s >= 0)) {
          throw new IllegalArgumentException("--noise values must be >= 0, got " + s);
        }
      }
      if (attacks.contains("pgd") && pgdSteps <= 0) {
        throw new IllegalArgumentException("--pgd-steps must be positive");
      }
    }

    /** The PGD step size used at radius {@code eps}. */
    public double alphaFor(double eps) {
      return pgdAlpha > 0 ? pgdAlpha : eps / 4;
    }
  }

  /** One PGD run from {@code x}: steps signed-gradient ascents of size alpha, each projected to the eps-ball. */
  public static float[] pgd(AnalysisSession s, float[] x, long[] labels, long[] imageShape, double eps, double alpha,
      int steps) {
    return pgd(s, x, labels, imageShape, eps, alpha, steps, Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY);
  }

  /** PGD as above, each iterate also clipped to [lo, hi] (the valid pixel range in model units). */
  public static float[] pgd(AnalysisSession s, float[] x, long[] labels, long[] imageShape, double eps, double alpha,
      int steps, double lo, double hi) {
    float[] adv = x.clone();
    for (int k = 0; k < steps; k++) {
      float[] g = s.run(adv, labels, imageShape, true, false).grad();
      adv = AttackMath.clip(AttackMath.project(AttackMath.signStep(adv, g, alpha), x, eps), lo, hi);
    }
    return adv;
  }

  /** Measures everything {@code c} asks for on the first images of {@code test}. */
  public static AnalysisReport run(AnalysisSession s, LabeledImages test, Config c) {
    int n = Math.min(c.examples(), test.size());
    int per = test.pixelsPerImage();
    long[] full = test.imageShape();
    long[] imageShape = Arrays.copyOfRange(full, 1, full.length);
    long[] allLabels = test.labels();
    int clean = 0;
    int[] noisy = new int[c.noise().length];
    List<String> kinds = c.attacks();
    int[][] attacked = new int[kinds.size()][c.epsilons().length];
    List<String> blocks = s.blocks();
    double[] cosSums = new double[blocks.size()];
    Random rng = new Random(c.seed());
    // In pixel space a radius r in [0, 1] pixel units is r / std in the model's normalised units, and the valid
    // pixels [0, 1] are [-mean / std, (1 - mean) / std].
    double unit = c.pixelSpace() ? 1 / test.std() : 1;
    double lo = c.pixelSpace() ? -test.mean() / test.std() : Double.NEGATIVE_INFINITY;
    double hi = c.pixelSpace() ? (1 - test.mean()) / test.std() : Double.POSITIVE_INFINITY;
    for (int start = 0; start < n; start += c.batch()) {
      int b = Math.min(c.batch(), n - start);
      float[] x = new float[b * per];
      long[] labels = new long[b];
      for (int i = 0; i < b; i++) {
        test.copyNormalizedImage(start + i, x, i * per);
        labels[i] = allLabels[start + i];
      }
      boolean needGrad = kinds.contains("fgsm");
      AnalysisSession.Pass p = s.run(x, labels, imageShape, needGrad, c.oversmoothing());
      clean += AttackMath.correct(p.logits(), p.classes(), labels);
      if (c.oversmoothing()) {
        for (int k = 0; k < blocks.size(); k++) {
          AnalysisSession.Tap t = p.taps().get(blocks.get(k));
          cosSums[k] += TokenSimilarity.sumOfMeanOffDiagonalCosine(t.data(), t.batch(), t.tokens(), t.dim());
        }
      }
      for (int j = 0; j < c.noise().length; j++) {
        float[] xn = AttackMath.clip(AttackMath.gaussianNoise(x, c.noise()[j] * unit, rng), lo, hi);
        noisy[j] += AttackMath.correct(s.run(xn, labels, imageShape, false, false).logits(), p.classes(), labels);
      }
      for (int a = 0; a < kinds.size(); a++) {
        for (int e = 0; e < c.epsilons().length; e++) {
          double eps = c.epsilons()[e];
          float[] adv = kinds.get(a).equals("fgsm") ? AttackMath.clip(AttackMath.signStep(x, p.grad(), eps * unit),
              lo, hi) : pgd(s, x, labels, imageShape, eps * unit, c.alphaFor(eps) * unit, c.pgdSteps(), lo, hi);
          attacked[a][e] += AttackMath.correct(s.run(adv, labels, imageShape, false, false).logits(), p.classes(),
              labels);
        }
      }
    }
    List<AnalysisReport.Noise> noise = new ArrayList<>();
    for (int j = 0; j < noisy.length; j++) {
      noise.add(new AnalysisReport.Noise(c.noise()[j], (double) noisy[j] / n));
    }
    List<AnalysisReport.Attack> attacks = new ArrayList<>();
    for (int a = 0; a < kinds.size(); a++) {
      boolean pgd = kinds.get(a).equals("pgd");
      for (int e = 0; e < c.epsilons().length; e++) {
        double eps = c.epsilons()[e];
        attacks.add(new AnalysisReport.Attack(kinds.get(a), eps, pgd ? c.pgdSteps() : 1, pgd ? c.alphaFor(eps) : eps,
            (double) attacked[a][e] / n));
      }
    }
    List<AnalysisReport.Similarity> sims = new ArrayList<>();
    if (c.oversmoothing()) {
      for (int k = 0; k < blocks.size(); k++) {
        sims.add(new AnalysisReport.Similarity(k + 1, blocks.get(k), cosSums[k] / n));
      }
    }
    return new AnalysisReport(n, (double) clean / n, noise, attacks, sims);
  }
}

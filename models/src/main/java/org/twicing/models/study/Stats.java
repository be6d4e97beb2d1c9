package org.twicing.models.study;

import java.util.ArrayList;
import java.util.List;

/** Summary statistics over seeds: mean, sample standard deviation, and the paired t-test. */
public final class Stats {
  private Stats() { }

  /** The arithmetic mean; NaN for no values. */
  public static double mean(List<Double> xs) {
    double s = 0;
    for (double x : xs) {
      s += x;
    }
    return xs.isEmpty() ? Double.NaN : s / xs.size();
  }

  /** The sample standard deviation (n − 1 in the denominator); NaN for fewer than two values. */
  public static double std(List<Double> xs) {
    if (xs.size() < 2) {
      return Double.NaN;
    }
    double m = mean(xs);
    double s = 0;
    for (double x : xs) {
      s += (x - m) * (x - m);
    }
    return Math.sqrt(s / (xs.size() - 1));
  }

  /**
   * A paired comparison of {@code b} against {@code a} (same seeds, same order): the mean and standard deviation of
   * the differences b − a, the t statistic, its two-sided p-value with n − 1 degrees of freedom, and how many
   * pairs b wins.
   */
  public record Paired(int n, double meanDiff, double stdDiff, double t, double p, int wins) { }

  /** The paired t-test of {@code b} − {@code a}; fails if the lists differ in length. */
  public static Paired paired(List<Double> a, List<Double> b) {
    if (a.size() != b.size()) {
      throw new IllegalArgumentException("paired comparison needs equal lengths, got " + a.size() + " and "
          + b.size());
    }
    List<Double> d = new ArrayList<>();
    int wins = 0;
    for (int i = 0; i < a.size(); i++) {
      d.add(b.get(i) - a.get(i));
      if (b.get(i) > a.get(i)) {
        wins++;
      }
    }
    int n = d.size();
    double m = mean(d);
    double s = std(d);
    double t = n < 2 ? Double.NaN : s == 0 ? (m == 0 ? 0 : Math.copySign(Double.POSITIVE_INFINITY, m))
        : m / (s / Math.sqrt(n));
    return new Paired(n, m, s, t, n < 2 ? Double.NaN : twoSidedP(t, n - 1), wins);
  }

  /** Two-sided p-value of Student's t with {@code df} degrees of freedom: I_{df/(df+t²)}(df/2, 1/2). */
  public static double twoSidedP(double t, int df) {
    if (Double.isNaN(t)) {
      return Double.NaN;
    }
    if (Double.isInfinite(t)) {
      return 0;
    }
    return regularizedBeta(df / (df + t * t), df / 2.0, 0.5);
  }

  /** The regularised incomplete beta function I_x(a, b), by its continued fraction (modified Lentz). */
  public static double regularizedBeta(double x, double a, double b) {
    if (x <= 0) {
      return 0;
    }
    if (x >= 1) {
      return 1;
    }
    double front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x));
    // The continued fraction converges quickly for x < (a + 1) / (a + b + 2); use the symmetry otherwise.
    if (x > (a + 1) / (a + b + 2)) {
      return 1 - regularizedBeta(1 - x, b, a);
    }
    double tiny = 1e-300;
    double c = 1;
    double d = 1 - (a + b) * x / (a + 1);
    d = Math.abs(d) < tiny ? tiny : d;
    d = 1 / d;
    double f = d;
    for (int m = 1; m <= 300; m++) {
      double num = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
      d = 1 + num * d;
      d = Math.abs(d) < tiny ? tiny : d;
      c = 1 + num / c;
      c = Math.abs(c) < tiny ? tiny : c;
      d = 1 / d;
      f *= d * c;
      num = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
      d = 1 + num * d;
      d = Math.abs(d) < tiny ? tiny : d;
      c = 1 + num / c;
      c = Math.abs(c) < tiny ? tiny : c;
      d = 1 / d;
      double delta = d * c;
      f *= delta;
      if (Math.abs(delta - 1) < 1e-15) {
        break;
      }
    }
    return front * f / a;
  }

  /** log Γ(x) for x > 0 (Lanczos, g = 7, n = 9; about 15 significant digits). */
  public static double logGamma(double x) {
    if (x < 0.5) {
      return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
    }
    double[] g = {0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
        -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
        1.5056327351493116e-7};
    x -= 1;
    double a = g[0];
    double t = x + 7.5;
    for (int i = 1; i < 9; i++) {
      a += g[i] / (x + i);
    }
    return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
  }
}

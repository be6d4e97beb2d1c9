package org.twicing.models.analysis;

import java.util.Random;

/** Plain-array helpers for input perturbations: Gaussian noise, signed-gradient steps and L-infinity projection. */
public final class AttackMath {
  private AttackMath() { }

  /** Returns {@code x + std * N(0, 1)} element-wise, drawing from {@code rng}. */
  public static float[] gaussianNoise(float[] x, double std, Random rng) {
    float[] out = new float[x.length];
    for (int i = 0; i < x.length; i++) {
      out[i] = (float) (x[i] + std * rng.nextGaussian());
    }
    return out;
  }

  /** Returns {@code x + step * sign(grad)} element-wise (sign(0) = 0). */
  public static float[] signStep(float[] x, float[] grad, double step) {
    float[] out = new float[x.length];
    for (int i = 0; i < x.length; i++) {
      out[i] = (float) (x[i] + step * Math.signum(grad[i]));
    }
    return out;
  }

  /** Clamps {@code adv} in place into the L-infinity ball of radius {@code eps} around {@code origin}; returns it. */
  public static float[] project(float[] adv, float[] origin, double eps) {
    for (int i = 0; i < adv.length; i++) {
      float lo = (float) (origin[i] - eps);
      float hi = (float) (origin[i] + eps);
      // Rounding of origin +- eps can step just outside the ball in float; nudge inwards while it does.
      while ((double) origin[i] - lo > eps && lo < origin[i]) {
        lo = Math.nextUp(lo);
      }
      while (hi - (double) origin[i] > eps && hi > origin[i]) {
        hi = Math.nextDown(hi);
      }
      adv[i] = Math.min(hi, Math.max(lo, adv[i]));
    }
    return adv;
  }

  /** Largest {@code |a[i] - b[i]|}. */
  public static double maxAbsDiff(float[] a, float[] b) {
    double m = 0;
    for (int i = 0; i < a.length; i++) {
      m = Math.max(m, Math.abs((double) a[i] - b[i]));
    }
    return m;
  }

  /** How many rows of {@code logits} ([batch, classes], row-major) have their arg-max equal to the label. */
  public static int correct(float[] logits, int classes, long[] labels) {
    int n = 0;
    for (int b = 0; b < labels.length; b++) {
      int best = 0;
      for (int c = 1; c < classes; c++) {
        if (logits[b * classes + c] > logits[b * classes + best]) {
          best = c;
        }
      }
      if (best == labels[b]) {
        n++;
      }
    }
    return n;
  }

  /** {@code x} with every element clamped to [lo, hi] (a copy; infinite bounds leave it unchanged). */
  public static float[] clip(float[] x, double lo, double hi) {
    if (lo == Double.NEGATIVE_INFINITY && hi == Double.POSITIVE_INFINITY) {
      return x;
    }
    float[] out = new float[x.length];
    for (int i = 0; i < x.length; i++) {
      out[i] = (float) Math.min(hi, Math.max(lo, x[i]));
    }
    return out;
  }
}

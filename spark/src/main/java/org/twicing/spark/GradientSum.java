package org.twicing.spark;

import java.io.Serializable;

/**
 * A partial sum of shard gradients on its way through Spark's tree aggregation: {@code Σ wᵢ·gᵢ} and
 * {@code Σ wᵢ·lossᵢ} over the shards it covers, with {@code Σ wᵢ}, where a shard's weight {@code wᵢ} is the number
 * of labelled positions its mean loss averages over (its examples, for classifiers). Dividing by {@code Σ wᵢ}
 * gives the gradient and loss of the global-batch mean exactly as one process computes it, up to float rounding.
 *
 * <p>A leaf (one shard) carries the worker's float32 gradient as computed (4 bytes per parameter on the wire);
 * sums are kept in float64 so that combining adds no rounding of its own.
 */
final class GradientSum implements Serializable {
  private static final long serialVersionUID = 1L;

  private final float[] leaf;
  private final double[] sum;
  private final double leafWeight;
  final double weight;
  final double lossSum;
  /** The longest time one task spent in ONNX Runtime for this step (nanoseconds). */
  final long computeNanos;

  private GradientSum(float[] leaf, double[] sum, double leafWeight, double weight, double lossSum,
      long computeNanos) {
    this.leaf = leaf;
    this.sum = sum;
    this.leafWeight = leafWeight;
    this.weight = weight;
    this.lossSum = lossSum;
    this.computeNanos = computeNanos;
  }

  /** One shard's mean-loss gradient (all parameters, flattened in order), loss and weight. */
  static GradientSum shard(float[] grads, float loss, double weight, long computeNanos) {
    return new GradientSum(grads, null, weight, weight, weight * loss, computeNanos);
  }

  /** A shard that holds no labelled position: it contributes nothing (its mean would be 0/0). */
  static GradientSum empty(long computeNanos) {
    return new GradientSum(null, null, 0, 0, 0, computeNanos);
  }

  /** The sum of two partial sums. */
  static GradientSum combine(GradientSum a, GradientSum b) {
    double[] s = a.weighted();
    double[] t = b.weighted();
    double[] out;
    if (s == null) {
      out = t;
    } else if (t == null) {
      out = s;
    } else {
      if (s.length != t.length) {
        throw new IllegalStateException("gradient sizes differ between shards: " + s.length + " and " + t.length);
      }
      out = s == a.sum ? s.clone() : s; // a fresh leaf conversion may be reused, a held sum not
      for (int i = 0; i < out.length; i++) {
        out[i] += t[i];
      }
    }
    return new GradientSum(null, out, 0, a.weight + b.weight, a.lossSum + b.lossSum,
        Math.max(a.computeNanos, b.computeNanos));
  }

  /** Σ wᵢ·gᵢ in float64, or null when no shard had a labelled position. */
  double[] weighted() {
    if (sum != null) {
      return sum;
    }
    if (leaf == null) {
      return null;
    }
    double[] d = new double[leaf.length];
    for (int i = 0; i < d.length; i++) {
      d[i] = leafWeight * leaf[i];
    }
    return d;
  }

  /** The global-batch mean gradient, rounded to float32 once. */
  float[] mean() {
    double[] s = weighted();
    if (s == null || weight == 0) {
      throw new IllegalStateException("no shard of the batch holds a labelled position; the mean loss is undefined");
    }
    float[] m = new float[s.length];
    for (int i = 0; i < m.length; i++) {
      m[i] = (float) (s[i] / weight);
    }
    return m;
  }
}

package org.twicing.models.analysis;

import java.util.Arrays;

/** Oversmoothing measure: mean off-diagonal cosine similarity between the token vectors of each image. */
public final class TokenSimilarity {
  private TokenSimilarity() { }

  /**
   * For {@code data} of shape [batch, tokens, dim] (row-major), the sum over images of each image's mean cosine
   * similarity over ordered token pairs i != j; divide by the number of images for the average. A zero token
   * vector counts as orthogonal to every other.
   */
  public static double sumOfMeanOffDiagonalCosine(float[] data, int batch, int tokens, int dim) {
    if (tokens < 2) {
      throw new IllegalArgumentException("need at least two tokens, got " + tokens);
    }
    double total = 0;
    double[] sum = new double[dim];
    for (int b = 0; b < batch; b++) {
      Arrays.fill(sum, 0);
      double selfTerms = 0;
      for (int t = 0; t < tokens; t++) {
        int off = (b * tokens + t) * dim;
        double norm = 0;
        for (int d = 0; d < dim; d++) {
          norm += (double) data[off + d] * data[off + d];
        }
        norm = Math.sqrt(norm);
        if (norm == 0) {
          continue;
        }
        selfTerms += 1;
        for (int d = 0; d < dim; d++) {
          sum[d] += data[off + d] / norm;
        }
      }
      // |sum_i u_i|^2 = sum_i |u_i|^2 + sum_{i != j} u_i . u_j for unit vectors u_i.
      double sq = 0;
      for (int d = 0; d < dim; d++) {
        sq += sum[d] * sum[d];
      }
      double mean = (sq - selfTerms) / ((double) tokens * (tokens - 1));
      total += Math.max(-1, Math.min(1, mean));
    }
    return total;
  }

  /** The average over images of {@link #sumOfMeanOffDiagonalCosine}. */
  public static double meanOffDiagonalCosine(float[] data, int batch, int tokens, int dim) {
    return sumOfMeanOffDiagonalCosine(data, batch, tokens, dim) / batch;
  }
}

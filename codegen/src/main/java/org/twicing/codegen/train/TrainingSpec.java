package org.twicing.codegen.train;

/**
 * Everything fixed when training graphs are emitted: loss, optimizer, optional global-norm gradient clipping
 * (0 disables) and the seed of the dropout masks.
 */
public record TrainingSpec(CrossEntropy loss, Optimizer optimizer, double clipNorm, long dropoutSeed) {
  /** AdamW as the paper's DeiT recipe (betas 0.9/0.999, eps 1e-8, weight decay 0.05), no clipping. */
  public static TrainingSpec defaults() {
    return new TrainingSpec(CrossEntropy.defaults(), new Optimizer.AdamW(0.9, 0.999, 1e-8, 0.05), 0.0, 0);
  }

  /** Validates the settings. */
  public TrainingSpec {
    if (clipNorm < 0) {
      throw new IllegalArgumentException("clip norm must be >= 0 (0 disables), got " + clipNorm);
    }
  }
}

package org.twicing.models.training;

import java.util.Locale;
import org.twicing.codegen.train.Optimizer;

/**
 * Which optimizer a run uses, as {@code --optimizer} spells it and run metadata stores it ({@code adamw},
 * {@code sgd}); the hyper-parameters live in {@link Optimizer}'s records.
 */
public enum OptimizerKind {
  /** AdamW ({@link Optimizer.AdamW}). */
  ADAMW,
  /** SGD with momentum ({@link Optimizer.Sgd}). */
  SGD;

  /** The spelling on the command line and in metadata: the lower-case name. */
  public String spelling() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The optimizer with these hyper-parameters; AdamW ignores {@code momentum}, SGD the betas and epsilon. */
  public Optimizer create(double beta1, double beta2, double eps, double momentum, double weightDecay) {
    return switch (this) {
      case ADAMW -> new Optimizer.AdamW(beta1, beta2, eps, weightDecay);
      case SGD -> new Optimizer.Sgd(momentum, weightDecay);
    };
  }

  /** Reads a spelling, ignoring case; fails naming {@code --optimizer} and the text. */
  public static OptimizerKind parse(String text) {
    for (OptimizerKind k : values()) {
      if (k.spelling().equals(text.toLowerCase(Locale.ROOT))) {
        return k;
      }
    }
    throw new IllegalArgumentException("--optimizer must be adamw or sgd, got '" + text + "'");
  }
}

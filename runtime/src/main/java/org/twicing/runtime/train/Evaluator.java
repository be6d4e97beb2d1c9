package org.twicing.runtime.train;

import java.util.Map;

/**
 * Measures a model during or after training by running its inference graph (e.g. accuracy on a test set, or loss
 * and perplexity on validation text).
 */
@FunctionalInterface
public interface Evaluator {
  /**
   * The metrics of the model {@code model} runs, by name in a stable order; the first is the headline metric (the
   * one plotted). {@code full} is false for the periodic evaluations during training, which may use a subset of the
   * data to stay cheap, and true for the final one.
   */
  Map<String, Double> evaluate(InferenceRunner model, boolean full);
}

package org.twicing.runtime.train;

import java.nio.file.Path;
import java.util.Map;

/**
 * What a {@link Trainer#train} call did: the steps it ran ({@code startStep + 1 .. endStep}), their losses, the
 * final evaluation, throughput (examples per second of step time, excluding evaluation and checkpointing), and
 * the files written.
 *
 * @param startStep the step the run started after (0, or the resumed checkpoint's step)
 * @param endStep the last step taken
 * @param losses the loss of each step taken by this call, in order
 * @param finalMetrics the final evaluation (empty without an evaluator)
 * @param samples examples trained on by this call
 * @param stepSeconds time spent in training steps (waiting for batches included; evaluation and checkpoints not)
 * @param wallSeconds time of the whole call, setup and final files included
 * @param runDir the run directory
 * @param stopped whether {@link Trainer#requestStop()} ended the call early (checkpoint written, no final model)
 */
public record TrainResult(long startStep, long endStep, float[] losses, Map<String, Double> finalMetrics,
    long samples, double stepSeconds, double wallSeconds, Path runDir, boolean stopped) {
  /** Training examples per second of step time. */
  public double samplesPerSecond() {
    return stepSeconds > 0 ? samples / stepSeconds : 0;
  }

  /** The last step's loss (NaN when no step was taken). */
  public float lastLoss() {
    return losses.length == 0 ? Float.NaN : losses[losses.length - 1];
  }

  /** The checkpoint file. */
  public Path checkpoint() {
    return runDir.resolve(Checkpoint.FILE_NAME);
  }

  /** The trained inference model. */
  public Path model() {
    return runDir.resolve(Trainer.MODEL_FILE);
  }

  /** The metrics log. */
  public Path metrics() {
    return runDir.resolve(MetricsLog.FILE_NAME);
  }

  /** The curves plot. */
  public Path curves() {
    return runDir.resolve(Curves.FILE_NAME);
  }
}

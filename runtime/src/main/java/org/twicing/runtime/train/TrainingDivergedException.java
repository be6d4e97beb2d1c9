package org.twicing.runtime.train;

import java.nio.file.Path;

/**
 * Training stopped because the loss (or a parameter) became NaN or infinite; the bad state was not written and the
 * last good checkpoint, if any, is untouched.
 */
public final class TrainingDivergedException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final long step;
  private final long lastCheckpointStep;
  private final transient Path checkpoint;

  /** Divergence noticed at {@code step}; {@code lastCheckpointStep} is -1 when none was written. */
  public TrainingDivergedException(String message, long step, long lastCheckpointStep, Path checkpoint) {
    super(message);
    this.step = step;
    this.lastCheckpointStep = lastCheckpointStep;
    this.checkpoint = checkpoint;
  }

  /** The step at which the non-finite value appeared. */
  public long step() {
    return step;
  }

  /** The step of the checkpoint that was kept, or -1 when there is none. */
  public long lastCheckpointStep() {
    return lastCheckpointStep;
  }

  /** The checkpoint file that was kept (may not exist when {@link #lastCheckpointStep()} is -1). */
  public Path checkpoint() {
    return checkpoint;
  }
}

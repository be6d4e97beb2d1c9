package org.twicing.runtime.train;

import ai.onnxruntime.OnnxTensor;
import java.util.Map;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.runtime.SessionOptionsSpec;

/**
 * How a {@link Trainer} computes one optimizer step from the current parameters and optimizer state: by default
 * with the model's {@code train_step} graph in this process ({@link #local()}); a data-parallel backend (the spark
 * module) splits the batch over workers instead. Everything around the step (schedule, data order, metrics,
 * evaluation, checkpoints, resume, final files) stays the trainer's, so every backend keeps the same run directory.
 */
public interface StepRunner extends AutoCloseable {
  /**
   * Runs step {@code step} (counting from 1) on one batch with learning rate {@code lr}. {@code state} holds every
   * parameter and optimizer state tensor by name ({@code <param>}, {@code <param>.<state>}); the result holds the
   * loss of the batch (its mean over the batch, before the update) and the next value of each of those tensors
   * under the same names. {@code read} says whether the trainer reads that next state (to evaluate, checkpoint or
   * finish); when it does not, a runner that keeps replicas elsewhere (local SGD) may return the last state it
   * synchronised, since the trainer only passes it back to the next call.
   */
  Output run(Map<String, OnnxTensor> state, OnnxTensor input, OnnxTensor labels, int examples, float lr, long step,
      boolean read);

  /** Frees what the runner holds (sessions, broadcast data). */
  @Override
  void close();

  /**
   * One step's outcome: the batch loss and the next state tensors, which stay valid until {@link #close()} (the
   * trainer closes an output once the following step has consumed its tensors).
   */
  record Output(float loss, Map<String, OnnxTensor> next, Runnable release) implements AutoCloseable {
    @Override
    public void close() {
      release.run();
    }
  }

  /** Opens a step runner for a model: called once per training run, with the run's initial (or resumed) weights. */
  @FunctionalInterface
  interface Factory {
    /** A runner for {@code model} trained with {@code spec}; {@code weights} give the parameters' shapes. */
    StepRunner open(TaskModel model, StateDict weights, TrainingSpec spec, SessionOptionsSpec options);
  }

  /** The default: one {@code train_step} graph run in this process per step. */
  static Factory local() {
    return LocalStepRunner::open;
  }
}

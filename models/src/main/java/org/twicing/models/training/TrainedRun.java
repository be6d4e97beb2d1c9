package org.twicing.models.training;

import ai.onnxruntime.OrtException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.MetadataKeys;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.runtime.ModelSession;
import org.twicing.runtime.OnnxRuntimeException;
import org.twicing.runtime.SessionOptionsSpec;
import org.twicing.runtime.train.Checkpoint;
import org.twicing.runtime.train.InferenceRunner;
import org.twicing.runtime.train.Trainer;

/**
 * A finished (or interrupted) training run opened for inference: the model rebuilt from the run settings stored in
 * {@code RUN/checkpoint.safetensors} (checked tensor by tensor against the model) or, when there is no checkpoint,
 * {@code RUN/model.onnx} as written at the end of training.
 */
public final class TrainedRun implements AutoCloseable {
  private final Path source;
  private final RunSettings settings;
  private final TaskModel model;
  private final ModelSession session;
  private final InferenceRunner runner;
  private final long step;
  private final StateDict weights;

  private TrainedRun(Path source, RunSettings settings, TaskModel model, ModelSession session, long step,
      StateDict weights) {
    this.weights = weights;
    this.source = source;
    this.settings = settings;
    this.model = model;
    this.session = session;
    this.runner = InferenceRunner.of(session, model.inputName());
    this.step = step;
  }

  /**
   * Opens run directory {@code run} (or a checkpoint or model file given directly); errors name the file at fault
   * and, for a checkpoint that does not fit its model, the tensor.
   */
  public static TrainedRun open(Path run, SessionOptionsSpec options) throws IOException {
    Path checkpoint;
    Path modelFile;
    if (Files.isDirectory(run)) {
      checkpoint = run.resolve(Checkpoint.FILE_NAME);
      modelFile = run.resolve(Trainer.MODEL_FILE);
    } else if (Files.isRegularFile(run)) {
      boolean onnx = run.getFileName().toString().endsWith(".onnx");
      checkpoint = onnx ? null : run;
      modelFile = onnx ? run : null;
    } else {
      throw new NoSuchFileException(run.toString(), null, "run directory does not exist");
    }
    if (checkpoint != null && Files.exists(checkpoint)) {
      return fromCheckpoint(checkpoint, options);
    }
    if (modelFile != null && Files.exists(modelFile)) {
      return fromModel(modelFile, options);
    }
    throw new NoSuchFileException(run.toString(), null, "holds neither " + Checkpoint.FILE_NAME + " nor "
        + Trainer.MODEL_FILE + " (is it a 'twicing train' run directory?)");
  }

  private static TrainedRun fromCheckpoint(Path file, SessionOptionsSpec options) throws IOException {
    Checkpoint c = Checkpoint.read(file);
    RunSettings settings = RunSettings.fromMetadata(c.metadata(), file.toString());
    TaskModel model = settings.model();
    StateDict weights = c.parameters(model);
    byte[] bytes = ModelArtifacts.inferenceModel(model, weights, null, EmitOptions.defaults()).toByteArray();
    ModelSession session = ModelSession.open(bytes, options);
    return new TrainedRun(file, settings, model, session, c.step(), weights);
  }

  private static TrainedRun fromModel(Path file, SessionOptionsSpec options) {
    ModelSession session;
    try {
      session = ModelSession.open(file, options);
    } catch (OnnxRuntimeException e) {
      throw new IllegalArgumentException(file + ": not a loadable ONNX model: " + e.getMessage(), e);
    }
    try {
      Map<String, String> meta;
      try {
        meta = session.raw().getMetadata().getCustomMetadata();
      } catch (OrtException e) {
        throw new IllegalArgumentException(file + ": cannot read the model metadata: " + e.getMessage(), e);
      }
      RunSettings settings = RunSettings.fromMetadata(meta, file.toString());
      TaskModel model = settings.model();
      if (!session.inputs().containsKey(model.inputName()) || session.inputs().size() != 1) {
        throw new IllegalArgumentException(file + ": expected one input '" + model.inputName() + "' for model '"
            + model.name() + "', found " + session.inputs().keySet());
      }
      long step = Long.parseLong(meta.getOrDefault(MetadataKeys.STEP, "0"));
      return new TrainedRun(file, settings, model, session, step, null);
    } catch (RuntimeException e) {
      session.close();
      throw e;
    }
  }

  /** The file the weights came from. */
  public Path source() {
    return source;
  }

  /** The run's settings. */
  public RunSettings settings() {
    return settings;
  }

  /** The model. */
  public TaskModel model() {
    return model;
  }

  /** Runs the inference graph. */
  public InferenceRunner runner() {
    return runner;
  }

  /** The weights when the run was opened from its checkpoint (null when only model.onnx was there). */
  public StateDict weights() {
    return weights;
  }

  /** Training steps behind these weights. */
  public long step() {
    return step;
  }

  @Override
  public void close() {
    session.close();
  }
}

package org.twicing.spark;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.ModelArtifacts;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.models.training.RunSettings;
import org.twicing.models.training.TrainedRun;
import org.twicing.runtime.SessionOptionsSpec;

/**
 * A trained run's inference model as bytes to broadcast: opened with {@link TrainedRun} (so a run directory, a
 * checkpoint or a model.onnx is found and checked exactly as {@code twicing eval} does), then the same ONNX model
 * its single-process runner uses (the checkpoint's weights emitted as initializers, or model.onnx as written).
 *
 * @param bytes the ONNX inference model
 * @param model the model definition (input name, input type)
 * @param settings the run's settings (preset, data)
 * @param step training steps behind the weights
 * @param source the file the weights came from
 */
public record RunModel(byte[] bytes, TaskModel model, RunSettings settings, long step, Path source) {
  /** Opens {@code run} (a run directory, a checkpoint or a model.onnx); errors name the file at fault. */
  public static RunModel open(Path run) throws IOException {
    try (TrainedRun r = TrainedRun.open(run, SessionOptionsSpec.builder().intraOpThreads(1).build())) {
      byte[] bytes = r.weights() != null
          ? ModelArtifacts.inferenceModel(r.model(), r.weights(), null, EmitOptions.defaults()).toByteArray()
          : Files.readAllBytes(r.source());
      return new RunModel(bytes, r.model(), r.settings(), r.step(), r.source());
    }
  }
}

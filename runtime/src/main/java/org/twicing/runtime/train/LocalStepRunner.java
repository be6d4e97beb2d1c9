package org.twicing.runtime.train;

import ai.onnxruntime.OnnxTensor;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.twicing.codegen.emit.EmitOptions;
import org.twicing.codegen.emit.OnnxEmitter;
import org.twicing.codegen.train.TrainingGraphs;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.runtime.ModelSession;
import org.twicing.runtime.Results;
import org.twicing.runtime.SessionOptionsSpec;
import org.twicing.runtime.Tensors;

/** The single-process {@link StepRunner}: the model's {@code train_step} graph in one ONNX Runtime session. */
final class LocalStepRunner implements StepRunner {
  private final ModelSession session;
  private final String inputName;
  private final List<String> stateNames;

  private LocalStepRunner(ModelSession session, String inputName, List<String> stateNames) {
    this.session = session;
    this.inputName = inputName;
    this.stateNames = stateNames;
  }

  /** A runner with {@code model}'s train_step graph emitted for {@code spec}, parameters as inputs. */
  static LocalStepRunner open(TaskModel model, StateDict weights, TrainingSpec spec, SessionOptionsSpec options) {
    EmitOptions asInputs = EmitOptions.builder().parametersAsInputs(true).build();
    byte[] stepModel = OnnxEmitter.emit(TrainingGraphs.trainStep(model, weights, spec), asInputs).toByteArray();
    return new LocalStepRunner(ModelSession.open(stepModel, options), model.inputName(),
        TrainerConfig.stateNames(model, spec));
  }

  @Override
  public Output run(Map<String, OnnxTensor> state, OnnxTensor input, OnnxTensor labels, int examples, float lr,
      long step, boolean read) {
    Results r;
    try (OnnxTensor lrTensor = Tensors.floatScalar(lr);
        OnnxTensor stepTensor = Tensors.longScalar(step)) {
      Map<String, OnnxTensor> feeds = new HashMap<>(state);
      feeds.put(inputName, input);
      feeds.put(TrainingGraphs.LABELS, labels);
      feeds.put(TrainingGraphs.LR, lrTensor);
      feeds.put(TrainingGraphs.STEP, stepTensor);
      r = session.run(feeds);
    }
    float loss = r.tensor(Trainer.LOSS).getFloatBuffer().get(0);
    Map<String, OnnxTensor> next = new LinkedHashMap<>();
    for (String name : stateNames) {
      next.put(name, r.tensor(name + ".next"));
    }
    return new Output(loss, next, r::close);
  }

  @Override
  public void close() {
    session.close();
  }
}

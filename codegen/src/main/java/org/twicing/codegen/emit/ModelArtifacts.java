package org.twicing.codegen.emit;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.twicing.codegen.graphs.DecodeGraph;
import org.twicing.codegen.graphs.InferenceGraph;
import org.twicing.codegen.onnx.OnnxProtos.GraphProto;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.TrainingInfoProto;
import org.twicing.codegen.onnx.OnnxProtos.ValueInfoProto;
import org.twicing.codegen.train.TrainingGraphs;
import org.twicing.codegen.train.TrainingSpec;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.nn.Gpt;
import org.twicing.dsl.nn.Param;
import org.twicing.dsl.nn.StateDict;
import org.twicing.dsl.nn.TaskModel;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;

/**
 * The files {@code twicing emit} writes for a model: {@code model.onnx} (inference, with the training step in its
 * {@code training_info}), {@code grads.onnx} and {@code train_step.onnx}, and for language models ({@code Gpt})
 * {@code decode.onnx} (incremental decoding with a key/value cache, see {@code DecodeGraph}) when every layer is
 * softmax or twicing attention.
 */
public final class ModelArtifacts {
  /** File name of the inference model. */
  public static final String MODEL = "model.onnx";
  /** File name of the gradient graph. */
  public static final String GRADS = "grads.onnx";
  /** File name of the training-step graph. */
  public static final String TRAIN_STEP = "train_step.onnx";
  /** File name of the incremental decoding graph (language models only). */
  public static final String DECODE = "decode.onnx";

  private ModelArtifacts() { }

  /** The inference model, carrying {@code trainStep} as its ONNX training_info when given. */
  public static ModelProto inferenceModel(TaskModel model, StateDict weights, Graph trainStep, EmitOptions options) {
    ModelProto m = OnnxEmitter.emit(InferenceGraph.build(model, weights), options);
    if (trainStep == null) {
      return m;
    }
    return m.toBuilder().addTrainingInfo(trainingInfo(model, trainStep, options)).build();
  }

  /**
   * The ONNX TrainingInfoProto for {@code trainStep}: the algorithm reads the model's own initializers for the
   * parameters, keeps the optimizer state as zero-initialised initializers of its own, and binds every
   * {@code X.next} output back to X.
   */
  public static TrainingInfoProto trainingInfo(TaskModel model, Graph trainStep, EmitOptions options) {
    GraphProto g = OnnxEmitter.graph(trainStep, options.toBuilder()
        .parameterMode(EmitOptions.ParameterMode.REFERENCED).build());
    Map<String, long[]> states = new LinkedHashMap<>();
    for (Param p : model.parameters()) {
      for (ValueInfoProto in : g.getInputList()) {
        if (in.getName().startsWith(p.name() + ".") && !in.getName().equals(p.name())) {
          states.put(in.getName(), p.shape());
        }
      }
    }
    GraphProto.Builder b = g.toBuilder().clearInput();
    for (ValueInfoProto in : g.getInputList()) {
      if (!states.containsKey(in.getName())) {
        b.addInput(in);
      }
    }
    states.forEach((name, shape) -> b.addInitializer(OnnxEmitter.tensor(name, Tensor.zeros(DType.FLOAT32, shape))));
    TrainingInfoProto.Builder ti = TrainingInfoProto.newBuilder().setAlgorithm(b);
    for (Param p : model.parameters()) {
      ti.addUpdateBinding(OnnxEmitter.entry(p.name(), p.name() + ".next"));
    }
    states.keySet().forEach(s -> ti.addUpdateBinding(OnnxEmitter.entry(s, s + ".next")));
    return ti.build();
  }

  /**
   * The {@code train_step.onnx} model: one optimizer step with every parameter and optimizer state as a graph input
   * (whatever {@code options} says about parameters; opset, producer and metadata are taken from it).
   */
  public static ModelProto trainStepModel(TaskModel model, StateDict weights, TrainingSpec spec,
      EmitOptions options) {
    return OnnxEmitter.emit(TrainingGraphs.trainStep(model, weights, spec), asInputs(options));
  }

  /** The {@code grads.onnx} model: loss and gradients, with every parameter as a graph input. */
  public static ModelProto gradsModel(TaskModel model, StateDict weights, TrainingSpec spec, EmitOptions options) {
    return OnnxEmitter.emit(TrainingGraphs.grads(model, weights, spec), asInputs(options));
  }

  private static EmitOptions asInputs(EmitOptions options) {
    return options.toBuilder().parameterMode(EmitOptions.ParameterMode.INPUTS).build();
  }

  /** Writes all three artifacts into {@code dir} (atomically, file by file), initializers inline. */
  public static void writeAll(TaskModel model, StateDict weights, TrainingSpec spec, Path dir, EmitOptions options)
      throws IOException {
    writeAll(model, weights, spec, dir, options, Long.MAX_VALUE);
  }

  /**
   * Writes all three artifacts into {@code dir}; model.onnx initializers of at least {@code externalThreshold}
   * bytes go to ONNX external data ({@code model.onnx.data}).
   */
  public static void writeAll(TaskModel model, StateDict weights, TrainingSpec spec, Path dir, EmitOptions options,
      long externalThreshold) throws IOException {
    Graph step = TrainingGraphs.trainStep(model, weights, spec);
    Graph grads = TrainingGraphs.grads(model, weights, spec);
    ModelWriter.write(OnnxEmitter.emit(grads, asInputs(options)), dir.resolve(GRADS));
    ModelWriter.write(OnnxEmitter.emit(step, asInputs(options)), dir.resolve(TRAIN_STEP));
    ModelWriter.write(inferenceModel(model, weights, step, options), dir.resolve(MODEL), externalThreshold);
    if (model instanceof Gpt gpt && gpt.supportsCachedDecoding()) {
      ModelWriter.write(OnnxEmitter.emit(DecodeGraph.build(gpt, weights), options),
          dir.resolve(DECODE), externalThreshold);
    }
  }
}

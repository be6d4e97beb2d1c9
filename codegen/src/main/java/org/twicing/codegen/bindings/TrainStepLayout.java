package org.twicing.codegen.bindings;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.twicing.codegen.onnx.OnnxProtos.ModelProto;
import org.twicing.codegen.onnx.OnnxProtos.TensorProto;
import org.twicing.codegen.onnx.OnnxProtos.TensorShapeProto;
import org.twicing.codegen.onnx.OnnxProtos.ValueInfoProto;
import org.twicing.codegen.train.TrainingGraphs;
import org.twicing.dsl.types.DType;

/**
 * How the inputs of a {@code train_step.onnx} divide up: the batch (model inputs and labels), the learning rate
 * and step count, the parameters (inputs that are initializers of the matching {@code model.onnx}) and the
 * optimizer state (every other input {@code X} with an output {@code X.next}), each state tensor with its fixed
 * shape.
 */
public record TrainStepLayout(List<ValueInfoProto> data, ValueInfoProto labels, Map<String, long[]> parameters,
    Map<String, long[]> states) {
  /** Output of the training step holding the loss before the update. */
  public static final String LOSS = "loss";
  /** Suffix of the outputs holding the updated parameters and optimizer state. */
  public static final String NEXT = ".next";

  /** The layout of {@code trainStep} for {@code model}; errors name {@code what} (the training-step file). */
  public static TrainStepLayout of(ModelProto model, ModelProto trainStep, String what) {
    Map<String, TensorProto> initializers = new LinkedHashMap<>();
    for (TensorProto t : model.getGraph().getInitializerList()) {
      initializers.put(t.getName(), t);
    }
    Set<String> outputs = new HashSet<>();
    trainStep.getGraph().getOutputList().forEach(o -> outputs.add(o.getName()));
    if (!outputs.contains(LOSS)) {
      throw new IllegalArgumentException(what + " has no output '" + LOSS + "'; it is not a twicing training step");
    }
    List<ValueInfoProto> data = new ArrayList<>();
    ValueInfoProto labels = null;
    boolean lr = false;
    boolean step = false;
    Map<String, long[]> params = new LinkedHashMap<>();
    Map<String, long[]> states = new LinkedHashMap<>();
    for (ValueInfoProto in : trainStep.getGraph().getInputList()) {
      String name = in.getName();
      if (name.equals(TrainingGraphs.LABELS)) {
        labels = in;
      } else if (name.equals(TrainingGraphs.LR)) {
        lr = true;
      } else if (name.equals(TrainingGraphs.STEP)) {
        step = true;
      } else if (initializers.containsKey(name)) {
        TensorProto init = initializers.get(name);
        if (init.getDataType() != DType.FLOAT32.onnxCode()) {
          throw new IllegalArgumentException(what + ": parameter '" + name + "' has ONNX element type "
              + init.getDataType() + "; trainers handle float32 parameters only");
        }
        requireNext(outputs, name, what);
        params.put(name, init.getDimsList().stream().mapToLong(Long::longValue).toArray());
      } else if (outputs.contains(name + NEXT)) {
        states.put(name, fixedShape(in, what));
      } else {
        data.add(in);
      }
    }
    if (labels == null || !lr || !step) {
      throw new IllegalArgumentException(what + " lacks the input" + (labels == null ? " '" + TrainingGraphs.LABELS
          + "'" : "") + (!lr ? " '" + TrainingGraphs.LR + "'" : "") + (!step ? " '" + TrainingGraphs.STEP + "'" : "")
          + "; it is not a twicing training step");
    }
    if (params.isEmpty()) {
      throw new IllegalArgumentException(what + " takes none of the model's initializers as inputs, so it trains "
          + "no parameters; is it the training step of this model?");
    }
    return new TrainStepLayout(List.copyOf(data), labels, params, states);
  }

  private static void requireNext(Set<String> outputs, String name, String what) {
    if (!outputs.contains(name + NEXT)) {
      throw new IllegalArgumentException(what + " takes parameter '" + name + "' but has no output '" + name + NEXT
          + "' with its update");
    }
  }

  private static long[] fixedShape(ValueInfoProto in, String what) {
    List<TensorShapeProto.Dimension> dims = in.getType().getTensorType().getShape().getDimList();
    long[] shape = new long[dims.size()];
    for (int i = 0; i < shape.length; i++) {
      if (!dims.get(i).hasDimValue()) {
        throw new IllegalArgumentException(what + ": optimizer state '" + in.getName() + "' has a dynamic "
            + "dimension " + i + "; its shape must be fixed");
      }
      shape[i] = dims.get(i).getDimValue();
    }
    if (in.getType().getTensorType().getElemType() != DType.FLOAT32.onnxCode()) {
      throw new IllegalArgumentException(what + ": optimizer state '" + in.getName() + "' is not float32");
    }
    return shape;
  }
}

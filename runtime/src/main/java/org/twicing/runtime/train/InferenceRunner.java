package org.twicing.runtime.train;

import ai.onnxruntime.OnnxTensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Supplier;
import org.twicing.dsl.types.TensorType;
import org.twicing.runtime.ModelSession;
import org.twicing.runtime.Results;

/**
 * Runs an inference graph ({@code input -> logits}) on one input batch: either a model whose weights are
 * initializers, or a graph that takes its parameters as inputs, fed from live ONNX Runtime tensors (the trainer's
 * current weights, without copying or rewriting anything).
 */
public final class InferenceRunner {
  /** Name of the inference graph's output. */
  public static final String LOGITS = "logits";

  private final ModelSession session;
  private final String inputName;
  private final Supplier<Map<String, OnnxTensor>> parameters;

  private InferenceRunner(ModelSession session, String inputName, Supplier<Map<String, OnnxTensor>> parameters) {
    this.session = Objects.requireNonNull(session, "session");
    this.inputName = Objects.requireNonNull(inputName, "inputName");
    this.parameters = parameters;
    session.input(inputName);
    session.output(LOGITS);
  }

  /** A runner for a model with its weights as initializers (e.g. a trained {@code model.onnx}). */
  public static InferenceRunner of(ModelSession session, String inputName) {
    return new InferenceRunner(session, inputName, null);
  }

  /**
   * A runner for a graph taking its parameters as inputs; {@code parameters} is asked for the current tensors on
   * every run (they stay owned by the caller).
   */
  public static InferenceRunner withParameters(ModelSession session, String inputName,
      Supplier<Map<String, OnnxTensor>> parameters) {
    return new InferenceRunner(session, inputName, Objects.requireNonNull(parameters, "parameters"));
  }

  /** The declared type of the model input. */
  public TensorType inputType() {
    return session.input(inputName);
  }

  /** The input's name ({@code pixels}, {@code tokens}). */
  public String inputName() {
    return inputName;
  }

  /** The underlying session. */
  public ModelSession session() {
    return session;
  }

  /** Runs on {@code input} (owned by the caller) and returns the results, which the caller closes. */
  public Results run(OnnxTensor input) {
    Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
    if (parameters != null) {
      Map<String, OnnxTensor> params = parameters.get();
      for (String name : session.inputs().keySet()) {
        if (!name.equals(inputName)) {
          OnnxTensor t = params.get(name);
          if (t == null) {
            throw new IllegalStateException("no current tensor for parameter '" + name + "' of "
                + session.description());
          }
          feeds.put(name, t);
        }
      }
    }
    feeds.put(inputName, input);
    return session.run(feeds, List.of(LOGITS));
  }

  /** Runs on {@code input} and copies the logits out (row-major, shape of the logits output). */
  public float[] logits(OnnxTensor input) {
    try (Results r = run(input)) {
      return r.floats(LOGITS);
    }
  }
}

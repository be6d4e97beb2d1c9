package org.twicing.runtime.bindings;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.twicing.dsl.types.TensorSpec;
import org.twicing.dsl.types.TensorType;

/**
 * The inputs and outputs a generated binding was generated for. A binding checks the model file it loads against
 * its signature, so that a file re-exported with other inputs fails at load time, naming every difference,
 * instead of at the first call.
 */
public record Signature(List<TensorSpec> inputs, List<TensorSpec> outputs) {
  /** Copies the lists. */
  public Signature {
    inputs = List.copyOf(inputs);
    outputs = List.copyOf(outputs);
  }

  /**
   * Checks the declared inputs and outputs of a loaded model ({@code model} describes it in the message): every
   * input of the signature must be declared with the same dtype and shape and every output with the same dtype
   * and rank. With {@code exactInputs}, the model may have no other inputs either.
   */
  public void check(String model, Map<String, TensorType> declaredInputs, Map<String, TensorType> declaredOutputs,
      boolean exactInputs) {
    List<String> problems = new ArrayList<>();
    for (TensorSpec in : inputs) {
      TensorType t = declaredInputs.get(in.name());
      if (t == null) {
        problems.add("it has no input '" + in.name() + "' (expected " + in.type() + ")");
      } else if (!t.equals(in.type())) {
        problems.add("input '" + in.name() + "' is " + t + ", expected " + in.type());
      }
    }
    if (exactInputs) {
      for (Map.Entry<String, TensorType> e : declaredInputs.entrySet()) {
        if (inputs.stream().noneMatch(s -> s.name().equals(e.getKey()))) {
          problems.add("it has an extra input '" + e.getKey() + "' " + e.getValue());
        }
      }
    }
    for (TensorSpec out : outputs) {
      TensorType t = declaredOutputs.get(out.name());
      if (t == null) {
        problems.add("it has no output '" + out.name() + "' (expected " + out.type() + ")");
      } else if (t.dtype() != out.dtype() || t.rank() != out.rank()) {
        problems.add("output '" + out.name() + "' is " + t + ", expected " + out.type());
      }
    }
    if (!problems.isEmpty()) {
      throw new IllegalArgumentException(model + " does not match the binding generated for inputs " + inputs
          + " and outputs " + outputs + ": " + String.join("; ", problems)
          + " (regenerate the binding with twicing codegen)");
    }
  }
}

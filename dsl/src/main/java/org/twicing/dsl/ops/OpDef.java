package org.twicing.dsl.ops;

import java.util.List;
import org.twicing.dsl.ir.Attributes;
import org.twicing.dsl.types.Dim;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;
import org.twicing.dsl.ir.Value;

/**
 * The single definition of an op: its type/shape rule, its ONNX lowering (op type, domain, attributes by their
 * typed keys), its float64 reference semantics and its gradient rule, side by side, so adding an op touches one
 * place. Lowering is the node as built: the ONNX op type below plus the node's typed attributes.
 */
public abstract class OpDef {
  private final String onnxType;

  /** Defines an op lowered to the default-domain ONNX operator {@code onnxType}. */
  protected OpDef(String onnxType) {
    this.onnxType = onnxType;
  }

  /** The ONNX operator type this op lowers to. */
  public final String onnxType() {
    return onnxType;
  }

  /** The ONNX operator domain; the empty string is the default domain. */
  public String domain() {
    return "";
  }

  /** Type/shape rule: checks the operands and returns one type per output, or throws via {@link OpCall#fail}. */
  public abstract List<TensorType> infer(OpCall call);

  /** For int64 shape-describing outputs, the dims they hold (see {@link Value#shapeValue()}); null if unknown. */
  public List<Dim> shapeValue(OpCall call, int output) {
    return null;
  }

  /** Reference semantics in float64 on concrete tensors, independent of ONNX Runtime. */
  public abstract List<Tensor> evaluate(List<Tensor> inputs, Attributes attributes);

  /**
   * Gradient rule: given the upstream gradients of the node's outputs, builds the gradients of its inputs (one
   * entry per input; null where no gradient flows). The default says the op is not differentiable.
   */
  public List<Value> gradient(GradCall call) {
    throw new UnsupportedOperationException("op " + onnxType + " has no gradient rule (node " + call.node().name()
        + "); it cannot lie on a path from a parameter to the loss");
  }

  /** Whether this op's outputs depend on random state, so it must not be folded or deduplicated. */
  public boolean isRandom() {
    return false;
  }

  @Override
  public String toString() {
    return onnxType;
  }
}

package org.twicing.dsl.ir;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.twicing.dsl.types.Dim;
import org.twicing.dsl.types.Rounding;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

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

  /**
   * Reference semantics in float64 on concrete tensors, independent of ONNX Runtime; computed float results are
   * brought to their dtype under {@code rounding} (the evaluator's policy).
   */
  public abstract List<Tensor> evaluate(List<Tensor> inputs, Attributes attributes, Rounding rounding);

  /**
   * Gradient rule: given the upstream gradients of the node's outputs, builds the gradients of its inputs (one
   * entry per input; null where no gradient flows). The default says the op is not differentiable.
   */
  public List<Value> gradient(GradCall call) {
    throw new UnsupportedOperationException("op " + onnxType + " has no gradient rule (node " + call.node().name()
        + "); it cannot lie on a path from a parameter to the loss");
  }

  /**
   * How a node of this op is lowered for a target default-domain opset when it cannot be emitted as itself: a
   * small graph over the node's present inputs (graph inputs in the node's input order, omitted optional inputs
   * left out) whose outputs, in order, replace the node's outputs; the emitter inlines it (recursively, so its
   * nodes get the same per-opset treatment). Null (the default) means the node is emitted as its own ONNX op.
   * Used for ops newer than the target opset (Gelu before opset 20) and for modes consumers run unreliably
   * (training-mode BatchNormalization).
   */
  public Graph decompose(Node node, int opset) {
    return null;
  }

  /**
   * A decomposition into primitive ops that the emitter uses for speed even where the op exists in the target
   * opset, unless asked to keep fused ops (same contract as {@link #decompose}); null (the default) when the op's
   * own kernel is the faster form. LayerNormalization has one: ONNX Runtime 1.29's CPU kernel for it is about 4×
   * slower than the nine primitive ops that compute the same thing.
   */
  public Graph primitives(Node node, int opset) {
    return null;
  }

  /**
   * Builds a {@link #decompose} graph for {@code node}: one graph input per present node input (named
   * {@code in<i>}, typed like it), {@code body} maps the inputs (null where omitted) to the replacement outputs.
   */
  protected static Graph decomposeWith(Node node,
      Function<List<Value>, List<Value>> body) {
    GraphBuilder g = new GraphBuilder(node.name());
    List<Value> ins = new ArrayList<>();
    for (int i = 0; i < node.inputs().size(); i++) {
      Value v = node.input(i);
      ins.add(v == null ? null : g.input("in" + i, v.type()));
    }
    List<Value> outs = body.apply(ins);
    if (outs.size() != node.outputs().size()) {
      throw new IllegalStateException(node.op() + " decomposition of node " + node.name() + " gives " + outs.size()
          + " outputs, the node has " + node.outputs().size());
    }
    for (int k = 0; k < outs.size(); k++) {
      g.output("out" + k, outs.get(k));
    }
    return g.build();
  }

  /**
   * The int-list attributes that ONNX takes as trailing int64 inputs instead, in input order, in the target opset
   * (ReduceMean's and ReduceMax's axes from opset 18); the emitter writes them as initializers. Default: none.
   */
  public List<Attr<long[]>> attributesAsInputs(int opset) {
    return List.of();
  }

  /**
   * How many leading outputs ONNX requires of a node with these attributes; outputs from this index on are
   * optional, and the emitter leaves out those nothing reads (MaxPool's Indices, Dropout's mask). Default: all.
   */
  public int requiredOutputs(Attributes attributes) {
    return Integer.MAX_VALUE;
  }

  /**
   * The value a node of this op always produces, read from its attributes, for ops whose single output is a
   * constant (the builder records it on the output so shape rules and folding can read it); null otherwise.
   */
  public Tensor constantValue(Attributes attributes) {
    return null;
  }

  /**
   * Whether a node of this op computes nothing: its single output is its first input, and it exists only to give
   * reverse mode a hand-written rule (a gradient marker). Graph passes replace such nodes by that input once the
   * gradients are built. Default: false.
   */
  public boolean isPassThrough() {
    return false;
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

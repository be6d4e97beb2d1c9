package org.twicing.dsl.ops;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import org.twicing.dsl.ir.Attributes;
import org.twicing.dsl.ir.CoreOps;
import org.twicing.dsl.ir.GradCall;
import org.twicing.dsl.ir.Graph;
import org.twicing.dsl.ir.Node;
import org.twicing.dsl.ir.OpCall;
import org.twicing.dsl.ir.OpDef;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.types.Dim;
import org.twicing.dsl.types.Rounding;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/**
 * A gradient marker (like {@code jax.custom_vjp}): its output is its first input {@code y} unchanged, and reverse
 * mode differentiates it with a hand-written rule with respect to the other inputs, instead of through the ops
 * that computed {@code y}. A composite such as GELU can so keep the forward ops ONNX Runtime fuses and still get
 * a backward of fewer passes than the chain rule through each primitive gives. One instance per use, holding its
 * rule; graph passes remove the marker after differentiation ({@link #isPassThrough}), and an unoptimised graph
 * emits it as an Identity.
 */
final class CustomGradient extends OpDef {
  private final Function<Value, List<Value>> rule;
  private final String what;

  /** A marker whose {@code rule} maps dL/dy to one gradient per remaining input; {@code what} names it in errors. */
  CustomGradient(String what, Function<Value, List<Value>> rule) {
    super("Identity");
    this.what = what;
    this.rule = rule;
  }

  @Override
  public List<TensorType> infer(OpCall call) {
    if (call.count() < 2) {
      throw call.fail("a custom gradient (%s) needs the value and at least one input to differentiate, got %d "
          + "operands", what, call.count());
    }
    return List.of(call.type(0));
  }

  // Forward semantics are Identity's on the first input.
  @Override
  public List<Dim> shapeValue(OpCall call, int output) {
    return CoreOps.IDENTITY.shapeValue(call, output);
  }

  @Override
  public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
    return CoreOps.IDENTITY.evaluate(in.subList(0, 1), a, rounding);
  }

  @Override
  public List<Value> gradient(GradCall g) {
    List<Value> out = new ArrayList<>(Arrays.asList((Value) null));
    Value dy = g.grad(0);
    int wrt = g.node().inputs().size() - 1;
    if (dy == null) {
      out.addAll(Arrays.asList(new Value[wrt]));
      return out;
    }
    List<Value> grads = rule.apply(dy);
    if (grads.size() != wrt) {
      throw new IllegalStateException("custom gradient " + what + " (node " + g.node().name() + ") returned "
          + grads.size() + " gradients for " + wrt + " inputs");
    }
    out.addAll(grads);
    return out;
  }

  @Override
  public Graph decompose(Node node, int opset) {
    return decomposeWith(node, ins -> List.of(Ops.identity(ins.get(0))));
  }

  @Override
  public boolean isPassThrough() {
    return true;
  }

  @Override
  public String toString() {
    return "CustomGradient(" + what + ")";
  }
}

package org.twicing.dsl.ir;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Rounding;
import org.twicing.dsl.types.Dim;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/**
 * The two ops the graph builder itself creates: Constant (for {@link GraphBuilder#constant}) and Identity (to
 * name graph outputs). They live with the IR, as the op contract does, so that {@code ir} needs nothing from the
 * op library; {@code org.twicing.dsl.ops.Ops} exposes them with the rest of the registry.
 */
public final class CoreOps {
  private CoreOps() { }

  /** The Constant op's {@code value} attribute. */
  public static final Attr<Tensor> VALUE = Attr.tensor("value");

  /** Constant: no inputs, one output holding the {@link #VALUE} attribute; not differentiable (nothing flows in). */
  public static final OpDef CONSTANT = new OpDef("Constant") {
    @Override
    public List<TensorType> infer(OpCall call) {
      Tensor v = call.attr(VALUE);
      if (v == null) {
        throw call.fail("attribute 'value' is required");
      }
      return List.of(v.type());
    }

    @Override
    public List<Dim> shapeValue(OpCall call, int output) {
      Tensor v = call.attr(VALUE);
      if (v.dtype() != DType.INT64 || v.rank() > 1) {
        return null;
      }
      List<Dim> out = new ArrayList<>();
      for (long x : v.toLongs()) {
        if (x < 0) {
          return null;
        }
        out.add(Dim.of(x));
      }
      return out;
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      return List.of(a.get(VALUE));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      return List.of();
    }

    @Override
    public Tensor constantValue(Attributes attributes) {
      return attributes.get(VALUE);
    }
  };

  /** Identity: {@code y = x} for a tensor of any dtype; the gradient passes straight through. */
  public static final OpDef IDENTITY = new OpDef("Identity") {
    @Override
    public List<TensorType> infer(OpCall call) {
      if (call.count() != 1) {
        throw call.fail("expects 1 input, got %d", call.count());
      }
      return List.of(call.type(0));
    }

    @Override
    public List<Dim> shapeValue(OpCall call, int output) {
      return call.input(0).shapeValue();
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a, Rounding rounding) {
      Tensor x = in.get(0);
      // Rounded to its dtype as every other elementwise op's result; tensors are immutable, so sharing is safe.
      return List.of(x.rounded(rounding));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      return Arrays.asList(g.grad(0));
    }
  };
}

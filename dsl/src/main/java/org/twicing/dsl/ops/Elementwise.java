package org.twicing.dsl.ops;

import static org.twicing.dsl.ops.Ops.*;

import java.util.Arrays;
import java.util.List;
import java.util.function.DoubleBinaryOperator;
import java.util.function.DoubleUnaryOperator;
import java.util.function.Function;
import org.twicing.dsl.eval.Kernels;
import org.twicing.dsl.ir.Attributes;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;
import org.twicing.dsl.types.TensorType;

/**
 * Elementwise ops, table-driven: each row is the ONNX type, the float64 function, and the gradient rule. Unary
 * ops keep their operand's type; binary arithmetic broadcasts like numpy; comparisons give bool.
 */
final class Elementwise {
  private Elementwise() { }

  /** A unary op: {@code y = f(x)}; {@code grad} builds dx from the call. */
  static class Unary extends OpDef {
    private final DoubleUnaryOperator f;
    private final Function<GradCall, Value> grad;
    private final boolean floatOnly;

    Unary(String onnxType, boolean floatOnly, DoubleUnaryOperator f, Function<GradCall, Value> grad) {
      super(onnxType);
      this.floatOnly = floatOnly;
      this.f = f;
      this.grad = grad;
    }

    @Override
    public List<TensorType> infer(OpCall call) {
      if (call.count() != 1) {
        throw call.fail("expects 1 input, got %d", call.count());
      }
      if (floatOnly) {
        call.requireFloat(0);
      } else if (!call.dtype(0).isNumeric()) {
        throw call.fail("input '%s' has dtype %s, expected a numeric type", call.input(0).name(), call.dtype(0));
      }
      return List.of(call.type(0));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a) {
      return List.of(Kernels.map(in.get(0), in.get(0).dtype(), f));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      return Arrays.asList(g.grad(0) == null ? null : grad.apply(g));
    }
  }

  /** A broadcasting binary arithmetic op. */
  static final class Binary extends OpDef {
    private final DoubleBinaryOperator f;
    private final Function<GradCall, Value> gradA;
    private final Function<GradCall, Value> gradB;

    Binary(String onnxType, DoubleBinaryOperator f, Function<GradCall, Value> gradA,
        Function<GradCall, Value> gradB) {
      super(onnxType);
      this.f = f;
      this.gradA = gradA;
      this.gradB = gradB;
    }

    @Override
    public List<TensorType> infer(OpCall call) {
      if (call.count() != 2) {
        throw call.fail("expects 2 inputs, got %d", call.count());
      }
      call.requireSameDType(0, 1);
      if (!call.dtype(0).isNumeric()) {
        throw call.fail("dtype %s is not numeric", call.dtype(0));
      }
      return List.of(new TensorType(call.dtype(0), Broadcast.shapes(call, List.of(call.shape(0), call.shape(1)))));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a) {
      DType t = in.get(0).dtype();
      DoubleBinaryOperator op = f;
      if (t.isInteger() && onnxType().equals("Div")) {
        op = (x, y) -> (double) ((long) x / (long) y);
      }
      return List.of(Kernels.zip(in.get(0), in.get(1), t, op));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      if (g.grad(0) == null) {
        return Arrays.asList(null, null);
      }
      Value da = g.needs(0) ? sumToShape(gradA.apply(g), g.input(0)) : null;
      Value db = g.needs(1) ? sumToShape(gradB.apply(g), g.input(1)) : null;
      return Arrays.asList(da, db);
    }
  }

  /** A broadcasting comparison giving bool. */
  static final class Compare extends OpDef {
    private final DoubleBinaryOperator f;

    Compare(String onnxType, DoubleBinaryOperator f) {
      super(onnxType);
      this.f = f;
    }

    @Override
    public List<TensorType> infer(OpCall call) {
      if (call.count() != 2) {
        throw call.fail("expects 2 inputs, got %d", call.count());
      }
      call.requireSameDType(0, 1);
      return List.of(new TensorType(DType.BOOL, Broadcast.shapes(call, List.of(call.shape(0), call.shape(1)))));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a) {
      return List.of(Kernels.zip(in.get(0), in.get(1), DType.BOOL, f));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      return Arrays.asList(null, null);
    }
  }

  private static final double TWO_OVER_SQRT_PI = 2.0 / Math.sqrt(Math.PI);

  static final OpDef NEG = new Unary("Neg", false, x -> -x, g -> neg(g.grad(0)));
  static final OpDef SQRT = new Unary("Sqrt", true, Math::sqrt,
      g -> div(g.grad(0), mul(g.output(0), scalarLike(g.output(0), 2.0))));
  static final OpDef EXP = new Unary("Exp", true, Math::exp, g -> mul(g.grad(0), g.output(0)));
  static final OpDef LOG = new Unary("Log", true, Math::log, g -> div(g.grad(0), g.input(0)));
  static final OpDef TANH = new Unary("Tanh", true, Math::tanh,
      g -> mul(g.grad(0), sub(scalarLike(g.output(0), 1.0), mul(g.output(0), g.output(0)))));
  static final OpDef ERF = new Unary("Erf", true, Kernels::erf,
      g -> mul(g.grad(0), mul(scalarLike(g.input(0), TWO_OVER_SQRT_PI),
          exp(neg(mul(g.input(0), g.input(0)))))));
  static final OpDef RELU = new Unary("Relu", false, x -> Math.max(x, 0),
      g -> where(greater(g.input(0), scalarLike(g.input(0), 0.0)), g.grad(0), scalarLike(g.grad(0), 0.0)));
  static final OpDef SIGMOID = new Unary("Sigmoid", true, x -> 1 / (1 + Math.exp(-x)),
      g -> mul(g.grad(0), mul(g.output(0), sub(scalarLike(g.output(0), 1.0), g.output(0)))));
  static final OpDef IDENTITY = new Unary("Identity", false, x -> x, g -> g.grad(0)) {
    @Override
    public List<TensorType> infer(OpCall call) {
      if (call.count() != 1) {
        throw call.fail("expects 1 input, got %d", call.count());
      }
      return List.of(call.type(0));
    }

    @Override
    public List<org.twicing.dsl.types.Dim> shapeValue(OpCall call, int output) {
      return call.input(0).shapeValue();
    }
  };

  static final OpDef ADD = new Binary("Add", Double::sum, GradCall::grad0, GradCall::grad0);
  static final OpDef SUB = new Binary("Sub", (x, y) -> x - y, GradCall::grad0, g -> neg(g.grad(0)));
  static final OpDef MUL = new Binary("Mul", (x, y) -> x * y,
      g -> mul(g.grad(0), g.input(1)), g -> mul(g.grad(0), g.input(0)));
  static final OpDef DIV = new Binary("Div", (x, y) -> x / y,
      g -> div(g.grad(0), g.input(1)), g -> neg(div(mul(g.grad(0), g.output(0)), g.input(1))));
  static final OpDef POW = new Binary("Pow", Math::pow,
      g -> mul(g.grad(0), mul(g.input(1), pow(g.input(0), sub(g.input(1), scalarLike(g.input(1), 1.0))))),
      g -> mul(g.grad(0), mul(g.output(0), log(g.input(0)))));

  static final OpDef EQUAL = new Compare("Equal", (x, y) -> x == y ? 1 : 0);
  static final OpDef LESS = new Compare("Less", (x, y) -> x < y ? 1 : 0);
  static final OpDef GREATER = new Compare("Greater", (x, y) -> x > y ? 1 : 0);

  /** Where(cond, x, y): broadcasting select. */
  static final OpDef WHERE = new OpDef("Where") {
    @Override
    public List<TensorType> infer(OpCall call) {
      if (call.count() != 3) {
        throw call.fail("expects 3 inputs (condition, x, y), got %d", call.count());
      }
      call.requireDType(0, DType.BOOL);
      call.requireSameDType(1, 2);
      return List.of(new TensorType(call.dtype(1),
          Broadcast.shapes(call, List.of(call.shape(0), call.shape(1), call.shape(2)))));
    }

    @Override
    public List<Tensor> evaluate(List<Tensor> in, Attributes a) {
      return List.of(Kernels.zipN(in, in.get(1).dtype(), v -> v[0] != 0 ? v[1] : v[2]));
    }

    @Override
    public List<Value> gradient(GradCall g) {
      if (g.grad(0) == null) {
        return Arrays.asList(null, null, null);
      }
      Value zero = scalarLike(g.grad(0), 0.0);
      Value dx = g.needs(1) ? sumToShape(where(g.input(0), g.grad(0), zero), g.input(1)) : null;
      Value dy = g.needs(2) ? sumToShape(where(g.input(0), zero, g.grad(0)), g.input(2)) : null;
      return Arrays.asList(null, dx, dy);
    }
  };
}
